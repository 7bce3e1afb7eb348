"""Settings: defaults < pitchcraft.toml < PITCHCRAFT_* environment < explicit arguments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pitchcraft import adapters
from pitchcraft.errors import PitchcraftError

CONFIG_ENV = "PITCHCRAFT_CONFIG"
DEFAULT_CONFIG_FILE = "pitchcraft.toml"


def config_file() -> Path | None:
    """The TOML file in force: $PITCHCRAFT_CONFIG, else ./pitchcraft.toml if it exists."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise PitchcraftError(f"{CONFIG_ENV} names {path}, which is not a file")
        return path
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.is_file() else None


SERVER_IN_FLIGHT = 64  # requests a plugin keeps in flight to a model server by default
BATCH_PER_WORKER = 4  # rows handed to a plugin at a time, per request in flight


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITCHCRAFT_", extra="forbid")

    plugins: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Allow-list of plugin names to load (comma-separated in the environment); "
        "unset loads every discovered plugin.",
    )
    extra_plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra plugin classes as 'module:Class', for plugins not packaged yet.",
    )
    concurrency: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Requests one plugin handles at once in a batch; 0: by the backend "
        f"({SERVER_IN_FLIGHT} for a model server, local_max_batch for the embedded model).",
    )
    batch_size: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="Requests handed to run_many at a time by the CLI; 0: "
        f"{BATCH_PER_WORKER} x concurrency.",
    )
    prompts_dir: Path | None = Field(
        default=None,
        description="Folder of prompt templates that override the shipped ones "
        "(<plugin>/<name>.<lang>.jinja).",
    )
    tables_dir: Path | None = Field(
        default=None,
        description="Folder of data tables that extend or override the shipped ones "
        "(<plugin>/<table>.yaml, e.g. copywriter/channels.yaml).",
    )
    chains_dir: Path | None = Field(
        default=None,
        description="Folder of chain files (*.yaml) added to the shipped ones; same name wins.",
    )
    chat_default: str = Field(
        default="support",
        description="Plugin or chain a chat message goes to when nothing else matches.",
    )
    chat_tool_calling: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Let the model route chat messages by tool calling; auto: only with an "
        "OpenAI-compatible server (the embedded model routes by keywords).",
    )
    chat_sessions: int = Field(default=1000, ge=1, description="Chat sessions kept in memory.")
    chat_turns: int = Field(default=20, ge=2, description="Turns kept per chat session.")
    # -- HTTP API (`pitchcraft serve`) ------------------------------------------------------
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Accepted API keys as 'name:<sha256 hex>' (comma-separated in the "
        "environment); `pitchcraft api-key` makes one. Only hashes are stored.",
    )
    api_keys_file: Path | None = Field(
        default=None, description="File of 'name:<sha256 hex>' lines, added to api_keys."
    )
    api_rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per minute per API key."
    )
    api_max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body accepted (413 above)."
    )
    api_max_batch: int = Field(default=64, ge=1, le=10_000, description="Requests per batch.")
    api_timeout_s: float = Field(
        default=300, gt=0, description="Time limit of one request (504 after)."
    )
    api_drain_s: float = Field(
        default=60,
        ge=0,
        description="On SIGTERM, how long running requests may take to finish (new ones get "
        "503) before the server stops anyway.",
    )
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (comma-separated); none."
    )
    log_level: str = Field(default="WARNING", description="Python logging level.")
    plugin_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options for one plugin, e.g. [plugin_options.support] in pitchcraft.toml "
        "(JSON in the environment); each plugin documents and validates its own.",
    )

    # -- product store -------------------------------------------------------------------
    store_path: Path = Field(
        default=Path.home() / ".local" / "share" / "pitchcraft" / "chroma",
        description="Folder of the embedded Chroma store (ignored when chroma_url is set).",
    )
    chroma_url: str | None = Field(
        default=None, description="Chroma server, e.g. http://127.0.0.1:8000; unset = local folder."
    )
    collection_prefix: str = Field(
        default="",
        pattern=r"^[a-zA-Z0-9_-]*$",
        description="Prefix for collection names, to keep several shops in one Chroma.",
    )
    embedder: str = Field(
        default="use-multilingual",
        description="'use-multilingual' (zh+en, offline) or 'sentence-transformers:<name or "
        "path>' (e.g. sentence-transformers:all-MiniLM-L6-v2, English).",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "pitchcraft",
        description="Where embeddings are cached by text hash.",
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    vector_weight: float = Field(default=1.0, ge=0, description="Weight of vector ranks in fusion.")
    keyword_weight: float = Field(default=1.0, ge=0, description="Weight of BM25 ranks in fusion.")

    # -- shared language model -----------------------------------------------------------
    llm_backend: Literal["local", "openai", "auto"] = Field(
        default="local",
        description="'local': the embedded model in-process (transformers); 'openai': any "
        "OpenAI-compatible server such as vLLM at llm_url; 'auto': the server at llm_url "
        "while it answers, the embedded model until then and whenever it does not.",
    )
    llm_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8100/v1; "
        "several separated by commas make a pool (each request goes to the least-loaded "
        "server that answers).",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="API key for llm_url.")
    llm_model: str | None = Field(
        default=None, description="Served base-model name; default: the server's first model."
    )
    llm_timeout_s: float = Field(
        default=120,
        gt=0,
        description="How long a request may wait for the model server's next word: replies "
        "are streamed, so a long reply from a busy server is not cut off, and a request "
        "waiting its turn for llm_server_in_flight is not timed.",
    )
    llm_server_in_flight: int = Field(
        default=SERVER_IN_FLIGHT,
        ge=1,
        le=1024,
        description="Requests sent to one model server at once, drafts and rewrites included; "
        "more wait their turn in the client, so a large batch is queued, not timed out.",
    )
    llm_connect_timeout_s: float = Field(default=5, gt=0, description="Time to reach the server.")
    llm_retries: int = Field(default=2, ge=0, le=10, description="Retries of transient failures.")
    llm_max_tokens: int = Field(default=256, ge=1, le=8192, description="Default reply length.")
    llm_server_seeds: bool = Field(
        default=False,
        description="Send sampled drafts' seeds to the model server (vLLM's per-request "
        "seed), so a server gives the same drafts again. Off by default: vLLM 0.32's CPU "
        "engine dies on a seeded request whose prompt it prefills in chunks.",
    )
    structured_retries: int = Field(
        default=2, ge=0, le=5, description="Re-asks when a reply fails its JSON schema."
    )
    local_max_batch: int = Field(
        default=16, ge=1, le=256, description="Requests the local backend generates together."
    )
    adapters_dir: Path = Field(
        default=adapters.FOLDER,
        description="Folder of LoRA adapters, one sub-folder per task (copy, reasons, ...).",
    )
    llm_adapters: bool = Field(
        default=True,
        description="False: every task gets the base model's answer, on either backend "
        "(for comparisons).",
    )

    @model_validator(mode="after")
    def _by_backend(self) -> Settings:
        """Requests in flight that fill the engine: a model server batches many at once (the
        bare client against vLLM on 2 cores: 191, 241, 288, 305 tokens/s at 16, 32, 64, 128
        in flight, llm_throughput), the embedded engine as many as its batch."""
        if self.concurrency == 0:
            self.concurrency = (
                self.local_max_batch if self.llm_backend == "local" else SERVER_IN_FLIGHT
            )
        if self.batch_size == 0:
            self.batch_size = BATCH_PER_WORKER * self.concurrency
        return self

    @field_validator("llm_url")
    @classmethod
    def _http_urls(cls, value: str | None) -> str | None:
        for url in split_urls(value):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @property
    def llm_urls(self) -> list[str]:
        """The model servers llm_url names (one, or a pool)."""
        return split_urls(self.llm_url)

    def backend_line(self) -> str:
        """Which engine answers, for a start-up banner."""
        if self.llm_backend == "local":
            return "model: the embedded model, in this process"
        if self.llm_backend == "openai":
            return f"model: {self._servers()}"
        return (
            f"model: {self._servers()} once it answers; the embedded model "
            "until then and whenever it does not"
        )

    def _servers(self) -> str:
        urls = self.llm_urls
        if len(urls) == 1:
            return f"the model server at {urls[0]}"
        return f"a pool of {len(urls)} model servers ({', '.join(urls)})"

    @field_validator("plugins", "extra_plugins", "api_keys", "api_cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def split_urls(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace(" ", ",").split(",") if part.strip()]
