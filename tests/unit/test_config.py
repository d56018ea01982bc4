"""Settings layers, presets and endpoint resolution."""

from __future__ import annotations

import pytest

from lsp_server.config import (
    Settings,
    apply_layer,
    build_settings,
    resolve_endpoint,
    settings_to_wire,
)


def test_defaults_are_the_mistral_preset() -> None:
    settings, problems = build_settings({})
    endpoint = resolve_endpoint(settings, {})
    assert problems == []
    assert endpoint.provider == "mistral"
    assert endpoint.base_url == "https://api.mistral.ai/v1"
    assert endpoint.model == "devstral-small-latest"
    assert endpoint.prompt_mode == "prefix"
    assert "MISTRAL_API_KEY" in (endpoint.problem() or "")


def test_mistral_key_alone_selects_mistral() -> None:
    env = {"MISTRAL_API_KEY": "m-key-123456789012"}
    settings, _ = build_settings(env)
    endpoint = resolve_endpoint(settings, env)
    assert endpoint.provider == "mistral" and endpoint.api_key == env["MISTRAL_API_KEY"]
    assert endpoint.key_source == "MISTRAL_API_KEY"
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
        ("openrouter", "https://openrouter.ai/api/v1", "mistralai/devstral-small"),
        ("bazaarlink", "https://bazaarlink.ai/api/v1", "mistralai/devstral-small"),
        ("vllm", "http://localhost:8000/v1", "mistralai/Devstral-Small-2507"),
        ("ollama", "http://localhost:11434/v1", "devstral"),
        ("lmstudio", "http://localhost:1234/v1", "devstral-small-2507"),
    ],
)
def test_presets(provider: str, url: str, model: str) -> None:
    settings, problems = build_settings({"DEVSTRAL_PROVIDER": provider})
    endpoint = resolve_endpoint(settings, {})
    assert problems == [] and (endpoint.base_url, endpoint.model) == (url, model)


def test_local_presets_need_no_key() -> None:
    for provider in ("vllm", "ollama", "lmstudio"):
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
    assert settings.base_url is None and settings.provider == "mistral"


def test_project_file_may_pick_a_local_endpoint_when_no_key_is_in_use() -> None:
    project = {"provider": "vllm", "baseUrl": "http://gpu-box:8000/v1"}
    settings, problems = build_settings({}, project=project)
    assert problems == [] and settings.provider == "vllm"
    assert settings.base_url == "http://gpu-box:8000/v1"


def test_user_layers_beat_the_project_file() -> None:
    settings, _ = build_settings({}, {"contextTokens": 1024}, None, {"contextTokens": 2048})
    assert settings.context_tokens == 1024
