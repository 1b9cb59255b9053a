// backprop-lens: starts the vendored Swagger UI (static/vendor/swagger-ui/) on this app's OpenAPI document.
// The document's URL comes from the server (data-openapi-url), so a deployment under a sub-path needs no change
// here. A file of its own because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var root = window.lensCommon.$("swagger-ui");
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    // Swagger UI would otherwise load a badge from validator.swagger.io: no request leaves this server.
    validatorUrl: null,
  });
})();
