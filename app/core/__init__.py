"""The shared core under every feature.

Settings, errors, middleware, forms, templating, stream slots, the schemas every feature validates with,
number formats and MathML.
"""
