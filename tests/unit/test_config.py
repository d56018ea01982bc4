"""Settings layers, presets and endpoint resolution."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lsp_server.config import (
    Settings,
    apply_layer,
    build_settings,
    merge_settings,
    read_project_file,
    resolve_endpoint,
    settings_to_wire,
)
from lsp_server.model.providers import KEY_ENV_VARS


def test_nothing_set_means_zero_config_local_and_says_what_to_run() -> None:
    settings, problems = build_settings({})
    endpoint = resolve_endpoint(settings, {})
    assert problems == []
    assert endpoint.provider == "auto" and endpoint.base_url is None
    problem = endpoint.problem() or ""
    assert "ollama pull devstral-small-2" in problem and "MISTRAL_API_KEY" in problem


def test_a_key_without_provider_selects_mistral_with_a_served_model() -> None:
    env = {"DEVSTRAL_API_KEY": "k" * 20}
    settings, _ = build_settings(env)
    endpoint = resolve_endpoint(settings, env)
    assert endpoint.provider == "mistral"
    assert endpoint.base_url == "https://api.mistral.ai/v1"
    assert endpoint.model == "mistral-small-latest"  # served today; no retired Devstral id
    assert endpoint.prompt_mode == "prefix"
    assert endpoint.problem() is None


def test_mistral_key_alone_selects_mistral() -> None:
    env = {"MISTRAL_API_KEY": "m-key-123456789012"}
    settings, _ = build_settings(env)
    endpoint = resolve_endpoint(settings, env)
    assert endpoint.provider == "mistral" and endpoint.api_key == env["MISTRAL_API_KEY"]
    assert endpoint.key_source == "environment (MISTRAL_API_KEY)"
    assert endpoint.problem() is None


def test_openai_variables_serve_the_generic_provider() -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "k" * 20,
           "DEVSTRAL_MODEL": "m"}
    settings, _ = build_settings(env)
    endpoint = resolve_endpoint(settings, env)
    assert endpoint.provider == "openai"
    assert endpoint.base_url == "http://127.0.0.1:9/v1"
    assert endpoint.api_key == "k" * 20 and endpoint.prompt_mode == "chat"


def test_generic_provider_without_model_says_so() -> None:
    env = {"DEVSTRAL_PROVIDER": "openai", "DEVSTRAL_BASE_URL": "http://127.0.0.1:9/v1"}
    settings, _ = build_settings(env)
    assert "DEVSTRAL_MODEL" in (resolve_endpoint(settings, env).problem() or "")


@pytest.mark.parametrize(
    ("provider", "url", "model"),
    [
        ("mistral", "https://api.mistral.ai/v1", "mistral-small-latest"),
        ("codestral", "https://codestral.mistral.ai/v1", "codestral-latest"),
        ("openrouter", "https://openrouter.ai/api/v1", "mistralai/devstral-2512"),
        ("bazaarlink", "https://bazaarlink.ai/api/v1", "mistralai/devstral-small"),
        ("vllm", "http://localhost:8000/v1", "mistralai/Devstral-Small-2-24B-Instruct-2512"),
        ("ollama", "http://localhost:11434/v1", "devstral-small-2"),
        ("lmstudio", "http://localhost:1234/v1", None),
        ("llamacpp", "http://localhost:8080/v1", None),
    ],
)
def test_presets(provider: str, url: str, model: str | None) -> None:
    settings, problems = build_settings({"DEVSTRAL_PROVIDER": provider})
    endpoint = resolve_endpoint(settings, {})
    assert problems == [] and (endpoint.base_url, endpoint.model) == (url, model)


def test_local_presets_need_no_key() -> None:
    for provider in ("vllm", "ollama"):
        settings, _ = build_settings({"DEVSTRAL_PROVIDER": provider})
        assert resolve_endpoint(settings, {}).problem() is None


def test_precedence_env_init_client() -> None:
    env = {"DEVSTRAL_MODEL": "env", "DEVSTRAL_LOG_LEVEL": "DEBUG"}
    settings, problems = build_settings(env, {"model": "init", "maxTokens": 50},
                                        {"devstral": {"model": "client"}})
    assert problems == []
    assert settings.model == "client" and settings.max_tokens == 50
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("layer", "fragment"),
    [
        ({"maxTokens": "many"}, "maxTokens"),
        ({"maxTokens": 0}, "between"),
        ({"temperature": True}, "number"),
        ({"provider": "acme"}, "one of"),
        ({"provider": "olama"}, "did you mean 'ollama'"),
        ({"api_key": "sk-x"}, "camelCase: 'apiKey'"),
        ({"base_url": "http://x"}, "camelCase: 'baseUrl'"),
        ({"promptMode": "magic"}, "promptMode"),
        ({"baseUrl": "ftp://x"}, "http"),
        ({"apiKey": 12345}, "string"),
        ({"nonsense": 1}, "unknown"),
    ],
)
def test_invalid_values_keep_the_previous_value(layer: dict, fragment: str) -> None:
    settings = Settings()
    before = settings_to_wire(settings, mask_key=False)
    problems = apply_layer(settings, layer, "test")
    assert len(problems) == 1 and fragment in problems[0]
    assert settings_to_wire(settings, mask_key=False) == before


def test_problem_messages_never_show_the_key() -> None:
    settings = Settings()
    problems = apply_layer(settings, {"apiKey": ["sk-secret-value"]}, "test")
    assert problems and "sk-secret-value" not in problems[0]


def test_unsupported_prompt_mode_falls_back_with_a_message() -> None:
    settings, problems = build_settings({"DEVSTRAL_PROVIDER": "lmstudio"}, {"promptMode": "fim"})
    assert any("not supported" in p for p in problems)
    assert resolve_endpoint(settings, {}).prompt_mode == "chat"


def test_masked_key_shows_at_most_four_characters() -> None:
    settings, _ = build_settings({"DEVSTRAL_API_KEY": "sk-abcdefghijklmnop"})
    endpoint = resolve_endpoint(settings, {})
    assert endpoint.masked_key() == "…mnop"
    assert settings_to_wire(settings)["apiKey"] == "***"


def test_project_file_can_tune_but_never_carry_a_key() -> None:
    project = {"contextTokens": 2048, "apiKey": "sk-from-the-repo-123456"}
    settings, problems = build_settings({}, project=project)
    assert settings.context_tokens == 2048 and settings.api_key is None
    assert any("apiKey" in p and "refused" in p for p in problems)
    assert not any("sk-from-the-repo" in p for p in problems)


def test_project_file_cannot_redirect_a_user_key() -> None:
    env = {"MISTRAL_API_KEY": "m" * 20}
    project = {"baseUrl": "https://attacker.example/v1", "provider": "openai"}
    settings, problems = build_settings(env, project=project)
    endpoint = resolve_endpoint(settings, env)
    assert endpoint.base_url == "https://api.mistral.ai/v1" and endpoint.provider == "mistral"
    assert sum("refused" in p for p in problems) == 2
    # The same holds for a key given in the editor's settings.
    settings, _ = build_settings({}, None, {"apiKey": "k" * 20}, project)
    assert settings.base_url is None and settings.provider == "auto"


def test_project_file_may_pick_a_loopback_endpoint_when_no_key_is_in_use() -> None:
    project = {"provider": "vllm", "baseUrl": "http://127.0.0.1:8000/v1"}
    settings, problems = build_settings({}, project=project)
    assert problems == [] and settings.provider == "vllm"
    assert settings.base_url == "http://127.0.0.1:8000/v1"


def test_project_file_cannot_point_at_a_remote_url_even_without_a_key() -> None:
    project = {"provider": "vllm", "baseUrl": "http://gpu-box.example:8000/v1"}
    settings, problems = build_settings({}, project=project)
    assert settings.base_url is None
    [problem] = problems
    assert ".devstral.json" in problem and "'baseUrl'" in problem and "trustedEndpoints" in problem
    # ... unless the user confirmed that URL in their own settings.
    settings, problems = build_settings(
        {}, {"trustedEndpoints": ["http://gpu-box.example:8000/v1"]}, None, project)
    assert problems == [] and settings.base_url == "http://gpu-box.example:8000/v1"
    # A remote preset is a remote URL too.
    settings, problems = build_settings({}, project={"provider": "openrouter"})
    assert settings.provider == "auto" and "remote service" in problems[0]


@pytest.mark.parametrize("layer", ["init", "client", "project"])
def test_snake_case_aliases_are_not_settings_in_any_layer(layer: str) -> None:
    """Issue 12 defect 1: `api_key`/`base_url` used to be accepted next to camelCase, which
    bypassed the refusal of `apiKey`/`baseUrl` in a project file."""
    values = {"api_key": "sk-alias-0123456789abcdef", "base_url": "https://attacker.example/v1"}
    args: dict[str, object] = {
        "init": {"init_options": values}, "client": {"client_config": values},
        "project": {"project": values}}[layer]
    settings, problems = build_settings({"MISTRAL_API_KEY": "m" * 20}, **args)  # type: ignore[arg-type]
    assert settings.api_key is None and settings.base_url is None
    assert len(problems) == 2
    assert all("camelCase" in p for p in problems)
    assert not any("sk-alias" in p for p in problems)


def test_project_file_allow_list_refuses_everything_else_once() -> None:
    project = {"logLevel": "debug", "trustedEndpoints": ["https://x.example/v1"],
               "completionApiKey": "sk-x", "temperature": 0.0, "multiline": "never"}
    settings, problems = build_settings({}, project=project, init_options=None)
    assert settings.log_level == "info" and settings.trusted_endpoints == []
    assert settings.temperature == 0.0 and settings.multiline == "never"
    assert len(problems) == 3
    for key in ("logLevel", "trustedEndpoints", "completionApiKey"):
        assert sum(f"'{key}'" in p for p in problems) == 1


@pytest.mark.parametrize(
    ("key", "cheaper", "dearer"),
    [("contextTokens", 1024, 8192), ("maxTokens", 64, 512), ("debounceMs", 400, 0),
     ("editMaxTurns", 5, 100), ("editMaxTokens", 10_000, 1_000_000),
     ("editTimeoutMs", 10_000, 600_000), ("timeoutMs", 2000, 20_000)],
)
def test_project_file_moves_cost_settings_only_the_cheaper_way(
        key: str, cheaper: int, dearer: int) -> None:
    settings, problems = build_settings({}, project={key: cheaper})
    assert problems == [] and settings_to_wire(settings)[key] == cheaper
    settings, problems = build_settings({}, project={key: dearer})
    assert settings_to_wire(settings)[key] == settings_to_wire(Settings())[key]
    [problem] = problems
    assert f"'{key}'" in problem and "may only" in problem


def test_project_file_cannot_raise_above_the_users_own_value() -> None:
    settings, problems = build_settings({}, {"contextTokens": 2048}, None,
                                        {"contextTokens": 3000})
    assert settings.context_tokens == 2048 and "may only lower" in problems[0]
    settings, problems = build_settings({}, {"contextTokens": 2048}, None,
                                        {"contextTokens": 1000})
    assert settings.context_tokens == 1000 and problems == []


def test_hostile_project_files_give_one_message_each(tmp_path: Path) -> None:
    cases = {
        "nested.json": "[" * 100_000 + "]" * 100_000,
        "deep.json": json.dumps({"a": [[[[[[[[[[1]]]]]]]]]]}),
        "huge.json": '{"model": "' + "x" * 200_000 + '"}',
        "broken.json": '{"maxTokens": ',
        "list.json": "[1, 2]",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        value, problems = read_project_file(path)
        assert value is None and len(problems) == 1 and str(path) in problems[0], name
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    value, problems = read_project_file(fifo)  # must not block waiting for a writer
    assert value is None and "regular" in problems[0]
    assert read_project_file(tmp_path / "absent.json") == (None, [])


def test_sources_say_where_each_value_came_from() -> None:
    env = {"DEVSTRAL_MODEL": "m-env", "DEVSTRAL_API_KEY": "k" * 20}
    result = merge_settings(env, {"maxTokens": 64}, {"temperature": 0.0},
                            {"contextTokens": 1024}, project_source="/r/.devstral.json")
    assert result.sources["model"] == "environment (DEVSTRAL_MODEL)"
    assert result.sources["api_key"] == "environment (DEVSTRAL_API_KEY)"
    assert result.sources["max_tokens"] == "user settings (initializationOptions)"
    assert result.sources["temperature"] == "user settings (workspace/configuration)"
    assert result.sources["context_tokens"] == "/r/.devstral.json"
    assert "debounce_ms" not in result.sources  # default
    endpoint = resolve_endpoint(result.settings, env, sources=result.sources)
    assert endpoint.key_source == "environment (DEVSTRAL_API_KEY)"


def test_an_invalid_provider_is_one_message_with_a_suggestion() -> None:
    settings, problems = build_settings({"DEVSTRAL_PROVIDER": "olama"})
    assert settings.provider == "auto"
    [problem] = problems
    assert "environment (DEVSTRAL_PROVIDER)" in problem and "did you mean 'ollama'" in problem


def test_one_list_of_key_variables() -> None:
    assert KEY_ENV_VARS[0] == "DEVSTRAL_API_KEY"
    for var in ("MISTRAL_API_KEY", "CODESTRAL_API_KEY", "OPENROUTER_API_KEY",
                "BAZAARLINK_API_KEY", "OPENAI_API_KEY"):
        assert var in KEY_ENV_VARS
    for var in KEY_ENV_VARS:  # a key in any of them counts as "the user's key is in use"
        _settings, problems = build_settings({var: "k" * 20},
                                             project={"baseUrl": "http://127.0.0.1:1/v1"})
        assert "your own API key" in problems[0]


def test_user_layers_beat_the_project_file() -> None:
    settings, _ = build_settings({}, {"contextTokens": 1024}, None, {"contextTokens": 2048})
    assert settings.context_tokens == 1024
