"""Every limit the server enforces, in one object, overridable from the environment.

Each field can be set with an environment variable named ``BACKPROP_LENS_`` plus
the field's name in capitals, e.g. ``BACKPROP_LENS_MAX_LAYERS=10``.

One way in for each place that needs them:

- An app holds its own ``Settings`` (``create_app(Settings(...))``); routes, and the
  functions they call, get them from the ``SettingsDep`` dependency
  (``app.core.deps``) and pass on the limits they need.
- ``current_settings()`` (a ContextVar) serves only where a dependency cannot reach:
  the validators of request models (``app.core.limits``' markers, the training
  schemas), which pydantic calls without the request. ``SettingsMiddleware`` points
  it at the app serving each request.
- ``get_settings()`` reads the environment: ``create_app``'s default and the command
  line use it (and ``current_settings()`` outside any request, e.g. a model
  validated by the CLI or a notebook). Nothing reads it inside a request.

Left out: reloading. Settings are frozen; a new value is a new app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE = Path(str(files("backprop_lens")))
"""The installed package: static/ and templates/ are inside it (in the repository, links to the top-level folders)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKPROP_LENS_", frozen=True)

    max_layers: int = Field(8, ge=2, description="Layers in a network, counting the input layer.")
    max_width: int = Field(1024, ge=1, description="Neurons in one layer.")
    max_parameters: int = Field(200_000, ge=1, description="Weights plus biases of one network.")
    max_batch: int = Field(1000, ge=1, description="Examples in one request.")
    max_batch_values: int = Field(1_000_000, ge=1, description="Examples × layer width of one request.")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Size of one request body.")
    metrics: bool = Field(True, description="Serve /metrics (Prometheus); keep it from the outside at the proxy.")
    trusted_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Other sites whose pages may send state-changing requests here (scheme://host[:port], "
        "comma-separated); the app's own host always may.",
    )
    compress_min_bytes: int = Field(
        1024, ge=0, description="Replies at least this large are compressed (br or gzip) for a client that accepts it."
    )
    max_abs_value: float = Field(1e6, gt=0, description="Magnitude of any number in a request.")
    max_eta: float = Field(1e3, gt=0, description="Largest learning rate η.")
    max_trace_layers_page: int = Field(8, ge=2, description="Layers the page draws.")
    max_stream_steps: int = Field(200, ge=1, description="Events in one stream.")
    max_stream_seconds: float = Field(120.0, gt=0, description="Lifetime of one stream.")
    max_streams: int = Field(256, ge=1, description="Concurrent event streams.")
    max_gradients_per_second_per_client: float = Field(
        1000.0, gt=0, description="POST /api/gradients requests a second from one client address (bursts as many)."
    )
    max_streams_per_client: int = Field(
        128, ge=1, description="Of those, how many one client address may hold (a class behind one NAT shares one)."
    )
    max_queued_trainings_per_client: int = Field(
        300, ge=1, description="Trainings one client address may have queued or training at once (a 429 past it)."
    )
    max_training_streams_per_client: int = Field(
        128,
        ge=1,
        description="Of those, how many training progress streams one client address may hold (a 429 past it).",
    )
    max_runs: int = Field(512, ge=1, description="Runs kept in the run store.")
    run_ttl_seconds: float = Field(3600.0, gt=0, description="How long an unused run is kept.")
    max_cached_traces: int = Field(
        256, ge=1, description="Traces a process keeps computed; any other run is recomputed from its configuration."
    )
    stage_cache_bytes: int = Field(
        64_000_000,
        ge=0,
        description="Characters of rendered steps a process keeps (least recently used out first); 0 keeps none.",
    )
    redis_url: str | None = Field(
        None, description="Redis holding the shared state (run configurations) of every process; None: in memory."
    )
    stream_send_timeout: float = Field(5.0, gt=0, description="Seconds a stalled client may hold a stream.")
    max_page_iterations: int = Field(1000, ge=0, description="Gradient steps a page permalink may replay.")
    max_gradcheck_parameters: int = Field(
        2000, ge=1, description="Parameters P of a network compared with finite differences (2P + 1 passes)."
    )
    max_gradcheck_work: int = Field(
        200_000, ge=1, description="Parameters × examples of one finite-difference comparison."
    )
    max_nudges: int = Field(12, ge=1, description="Nudges Δz in one request to the demon.")
    max_nudge: float = Field(1000.0, gt=0, description="Largest |Δz| the demon may add to z.")
    max_paths_listed: int = Field(50, ge=1, description="Strongest paths listed by the sum over paths.")
    max_path_width: int = Field(128, ge=1, description="Widest layer in the sum-over-paths instrument.")
    max_matrix_form_width: int = Field(16, ge=1, description="Widest layer shown as matrices (eqs. 33–35).")
    max_export_neurons: int = Field(
        64, ge=1, description="Neurons of a layer whose lines a step's LaTeX export writes out (the rest: counted)."
    )
    max_minibatch_values: int = Field(
        100_000, ge=1, description="Examples × parameters shown per example inside a mini-batch."
    )
    max_slow_weights_listed: int = Field(100, ge=1, description="Slow-learning weights listed by saturation.")
    max_epochs: int = Field(10_000, ge=1, description="Epochs of one training run.")
    max_training_examples: int = Field(2000, ge=4, description="Examples of a generated or CSV data set.")
    max_csv_bytes: int = Field(256 * 1024, ge=1024, description="Size of an uploaded CSV data set.")
    max_csv_rows: int = Field(2000, ge=2, description="Data rows of an uploaded CSV.")
    max_csv_cols: int = Field(64, ge=1, description="Feature columns of an uploaded CSV.")
    max_trainings: int = Field(4, ge=1, description="Trainings running at once (another gets a 429).")
    max_training_seconds: float = Field(600.0, gt=0, description="Wall-clock lifetime of one training run.")
    max_training_parameters: int = Field(20_000, ge=1, description="Weights plus biases of a trained network.")
    max_lmbda: float = Field(100.0, ge=0, description="Largest L2 regularisation parameter λ of a training run.")
    max_neuron_maps: int = Field(
        64, ge=0, description="Hidden neurons of a two-dimensional training drawn as heat maps (more: none drawn)."
    )
    trainings_kept: int = Field(32, ge=1, description="Finished trainings kept for inspecting and download.")
    training_ttl_seconds: float = Field(
        3600.0, gt=0, description="With Redis: how long a training's configuration, progress and weights are kept."
    )
    training_lease_seconds: float = Field(
        10.0, gt=0, description="With Redis: a training whose worker has not renewed its lease this long has failed."
    )
    training_heartbeat_seconds: float = Field(
        10.0, gt=0, description="With Redis: a training no page has followed this long is stopped (the tab closed)."
    )
    training_events_kept: int = Field(2000, ge=10, description="With Redis: progress events kept per training.")
    max_sessions: int = Field(64, ge=1, description="Class sessions open at once (another gets a 503).")
    max_followers: int = Field(
        500, ge=1, description="Students following one class session, over every process (another gets a 503)."
    )
    lecturer_key: SecretStr | None = Field(
        None,
        description="Who may share with a class: a key, several (comma-separated) or @/path/to/file (one a line); "
        "None: anyone, within max_sessions_per_client.",
    )
    max_sessions_per_client: int = Field(
        2, ge=1, description="Without a lecturer key: class sessions one client address may hold (another: a 429)."
    )
    max_follow_streams_per_client: int = Field(
        400, ge=1, description="Follow streams one client address may hold on one process (a class behind one NAT)."
    )
    max_reactions_per_minute_per_student: int = Field(
        6, ge=1, description="Reactions (lost, slower, got it) one student may send a minute, on one process."
    )
    max_reactions_per_minute_per_client: int = Field(
        600,
        ge=1,
        description="Reactions one client address may send a minute, on one process (a class behind one NAT).",
    )
    max_answers_per_question: int = Field(
        1000, ge=1, description="Students who may answer one question of a class session (each may change theirs)."
    )
    max_answers_per_minute_per_student: int = Field(
        20, ge=1, description="Answers (and changes of answer) one student may send a minute, on one process."
    )
    max_answers_per_minute_per_client: int = Field(
        1200,
        ge=1,
        description="Answers one client address may send a minute, on one process (a class behind one NAT).",
    )
    max_failed_joins_per_minute: int = Field(
        20, ge=1, description="Unknown join codes one client address may try a minute (then a 429 for the minute)."
    )
    session_ttl_seconds: float = Field(
        7200.0, gt=0, description="How long a class session is kept after the lecturer's last step or change."
    )
    follow_stream_seconds: float = Field(
        900.0, gt=0, description="Lifetime of one student's follow stream; the page opens it again at once."
    )
    static_dir: Path = PACKAGE / "static"
    templates_dir: Path = PACKAGE / "templates"

    @field_validator("trusted_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment: "https://a.example, https://b.example"
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


@lru_cache
def get_settings() -> Settings:
    """The environment's settings (read once): for ``create_app``'s default and the command line only."""
    return Settings()


_current: ContextVar[Settings | None] = ContextVar("backprop_lens_settings", default=None)


def current_settings() -> Settings:
    """The settings of the app serving this request, or the environment's outside a request.

    Only for code pydantic calls (validators of request models); a route takes ``SettingsDep`` instead.
    """
    return _current.get() or get_settings()


@contextmanager
def using(settings: Settings) -> Iterator[None]:
    """Within the block, ``current_settings()`` is ``settings`` (the middleware wraps each request in it)."""
    token = _current.set(settings)
    try:
        yield
    finally:
        _current.reset(token)
