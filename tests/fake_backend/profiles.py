"""Provider profiles: answer `/v1/models` and "unknown model" like each real provider.

Shapes as the providers document them (December 2026):

* ``openai``    ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``
* ``mistral``   the same plus, per model, ``capabilities`` (``completion_chat``,
  ``completion_fim``, ``function_calling``, …), ``max_context_length``, ``aliases``,
  ``deprecation`` (ISO date or null) and ``deprecation_replacement_model``; an unknown model
  is HTTP 400 ``{"object": "error", "message": "Invalid model: X", "type": "invalid_model",
  "param": null, "code": "1500"}``.
* ``openrouter`` ``{"data": [{"id", "canonical_slug", "name", "context_length", "pricing":
  {"prompt": "0.0000004", "completion": "0.000002", …}, "supported_parameters", …}]}`` (no
  ``object``); unknown model: HTTP 400 ``{"error": {"code": 400, "message": "X is not a valid
  model ID"}}``.
* ``ollama``    OpenAI's list with ``owned_by: "library"`` and tags (``devstral-small-2:latest``);
  unknown model: HTTP 404 ``{"error": {"message": "model \\"X\\" not found, try pulling it
  first", "type": "api_error", …}}``.
* ``vllm``      OpenAI's list with ``owned_by: "vllm"``, ``root``, ``max_model_len``;
  unknown model: HTTP 404 ``{"object": "error", "message": "The model `X` does not exist.",
  "type": "NotFoundError", "code": 404}``.
* ``llamacpp``  ``{"models": [{"name", "model", …}], "object": "list", "data": [{"id",
  "owned_by": "llamacpp", "meta": {"n_ctx_train": …}}]}``; llama-server answers with the model
  it loaded whatever the request names, so no "unknown model" error.
* ``lmstudio``  OpenAI's list with ``owned_by: "organization_owner"``; unknown model: HTTP 404
  OpenAI-style ``model_not_found``.

``model_meta`` adds or overrides per-model fields (``deprecation``, ``pricing``, …).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import wire

PROFILES = ("openai", "mistral", "openrouter", "ollama", "vllm", "llamacpp", "lmstudio")
CREATED = 1700000000


def _mistral(model_id: str) -> dict[str, Any]:
    fim = "codestral" in model_id
    return {
        "id": model_id, "object": "model", "created": CREATED, "owned_by": "mistralai",
        "capabilities": {"completion_chat": True, "completion_fim": fim,
                         "function_calling": True, "fine_tuning": False, "vision": not fim,
                         "classification": False},
        "name": model_id, "description": f"Official {model_id} Mistral AI model",
        "max_context_length": 256000 if not fim else 128000, "aliases": [],
        "deprecation": None, "deprecation_replacement_model": None,
        "default_model_temperature": 0.3, "type": "base",
    }


def _openrouter(model_id: str) -> dict[str, Any]:
    return {
        "id": model_id, "canonical_slug": model_id, "name": model_id, "created": CREATED,
        "description": "", "context_length": 262144,
        "architecture": {"modality": "text->text", "input_modalities": ["text"],
                         "output_modalities": ["text"], "tokenizer": "Mistral"},
        "pricing": {"prompt": "0.0000004", "completion": "0.000002", "request": "0",
                    "image": "0"},
        "top_provider": {"context_length": 262144, "max_completion_tokens": None,
                         "is_moderated": False},
        "supported_parameters": ["max_tokens", "temperature", "tools", "stop"],
    }


def model_entry(profile: str, model_id: str) -> dict[str, Any]:
    if profile == "mistral":
        return _mistral(model_id)
    if profile == "openrouter":
        return _openrouter(model_id)
    owner = {"ollama": "library", "vllm": "vllm", "llamacpp": "llamacpp",
             "lmstudio": "organization_owner"}.get(profile, "fake-backend")
    entry: dict[str, Any] = {"id": model_id, "object": "model", "created": CREATED,
                             "owned_by": owner}
    if profile == "vllm":
        entry.update(root=model_id, parent=None, max_model_len=262144)
    if profile == "llamacpp":
        entry["meta"] = {"vocab_type": 2, "n_vocab": 131072, "n_ctx_train": 393216,
                         "n_embd": 5120, "n_params": 23572403200, "size": 14333640704}
    return entry


def models_payload(profile: str, models: Sequence[str],
                   meta: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    data = []
    for model_id in models:
        entry = model_entry(profile, model_id)
        entry.update((meta or {}).get(model_id, {}))
        data.append(entry)
    if profile == "openrouter":
        return {"data": data}
    if profile == "llamacpp":
        return {"models": [{"name": m, "model": m, "modified_at": "", "size": "",
                            "digest": "", "type": "model", "description": "", "tags": [""],
                            "capabilities": ["completion"], "parameters": "", "details": {}}
                           for m in models],
                "object": "list", "data": data}
    return {"object": "list", "data": data}


def serves(profile: str, models: Sequence[str], model_id: Any) -> bool:
    """Whether a completion request naming `model_id` is served (llama.cpp serves anything)."""
    if profile == "llamacpp":
        return True
    if not isinstance(model_id, str):
        return False
    names = set(models)
    if profile == "ollama":
        names |= {m.removesuffix(":latest") for m in models}
    return model_id in names


def model_not_found(profile: str, model_id: str) -> tuple[int, dict[str, Any]]:
    """Status and body of the provider's answer to a completion naming an unknown model."""
    if profile == "mistral":
        return 400, {"object": "error", "message": f"Invalid model: {model_id}",
                     "type": "invalid_model", "param": None, "code": "1500"}
    if profile == "openrouter":
        return 400, {"error": {"code": 400, "message": f"{model_id} is not a valid model ID"}}
    if profile == "ollama":
        return 404, {"error": {"message": f'model "{model_id}" not found, try pulling it first',
                               "type": "api_error", "param": None, "code": None}}
    if profile == "vllm":
        return 404, {"object": "error", "message": f"The model `{model_id}` does not exist.",
                     "type": "NotFoundError", "param": None, "code": 404}
    return 404, wire.error_body(404, f"The model '{model_id}' does not exist",
                                code="model_not_found")
