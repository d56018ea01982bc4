"""Fake secrets for the privacy tests, generated at test time (seeded, so stable) so that no
key-shaped literal lives in the repository; `SECRET_CORPUS` holds each of them the way real
code and config files do."""

from __future__ import annotations

import base64
import random
import string

RNG = random.Random(20240718)
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _b64url(n: int) -> str:
    return (
        base64.urlsafe_b64encode(bytes(RNG.randrange(256) for _ in range(n))).decode().rstrip("=")
    )


# Fake secrets, generated at test time so no key-shaped literal lives in the repository.
SECRETS: dict[str, str] = {
    "openai": "sk-" + rand(48),
    "openai_proj": "sk-proj-" + rand(40) + "T3BlbkFJ" + rand(40),
    "anthropic": "sk-ant-api03-" + rand(90, ALNUM + "-_") + "AA",
    "aws_id": "AKIA" + rand(16, string.ascii_uppercase + string.digits),
    "aws_session_id": "ASIA" + rand(16, string.ascii_uppercase + string.digits),
    "aws_secret": rand(40, ALNUM + "/+"),
    "github": "ghp_" + rand(36),
    "github_pat": "github_pat_" + rand(22) + "_" + rand(59),
    "gitlab": "glpat-" + rand(20, ALNUM + "-_"),
    "slack": "xoxb-" + rand(11, string.digits) + "-" + rand(12, string.digits) + "-" + rand(24),
    "google": "AIza" + rand(35, ALNUM + "-_"),
    "stripe": "sk_" + "live_" + rand(24),
    "stripe_rk": "rk_" + "live_" + rand(24),
    "jwt": "eyJ" + _b64url(24) + ".eyJ" + _b64url(40) + "." + _b64url(32),
    "db_password": rand(14, ALNUM + "!#%^"),
    "django_secret": "django-insecure-" + rand(40, ALNUM + "!@#%^&*(-_=+)"),
    "api_token_hex": rand(40, "0123456789abcdef"),
    "client_secret": rand(32, ALNUM + "-_~"),
    "mistral": rand(32),
    "yaml_password": rand(18),
    "npm": "npm_" + rand(36),
    "hf": "hf_" + rand(34),
}
PEM_BODY = "\n".join(rand(64, ALNUM + "+/") for _ in range(6))

SECRET_CORPUS = f'''
import os
OPENAI_API_KEY = "{SECRETS["openai"]}"
client = OpenAI(api_key="{SECRETS["openai_proj"]}")
anthropic_key = '{SECRETS["anthropic"]}'
[default]
aws_access_key_id = {SECRETS["aws_id"]}
aws_secret_access_key = {SECRETS["aws_secret"]}
session = boto3.Session("{SECRETS["aws_session_id"]}")
headers = {{"Authorization": "token {SECRETS["github"]}"}}
GH_PAT={SECRETS["github_pat"]}
gitlab:
  token: {SECRETS["gitlab"]}
SLACK = "{SECRETS["slack"]}"
const maps = loadMaps({{ key: "{SECRETS["google"]}" }});
stripe.api_key = "{SECRETS["stripe"]}"
restricted = "{SECRETS["stripe_rk"]}"
fetch(url, {{ headers: {{ Authorization: `Bearer {SECRETS["jwt"]}` }} }})
DATABASE_URL = "postgres://app:{SECRETS["db_password"]}@db.internal:5432/app"
SECRET_KEY = "{SECRETS["django_secret"]}"
API_TOKEN = "{SECRETS["api_token_hex"]}"
"client_secret": "{SECRETS["client_secret"]}",
MISTRAL_API_KEY={SECRETS["mistral"]}
database:
  password: {SECRETS["yaml_password"]}
//registry.npmjs.org/:_authToken={SECRETS["npm"]}
hf_token = "{SECRETS["hf"]}"
KEY = """-----BEGIN RSA PRIVATE KEY-----
{PEM_BODY}
-----END RSA PRIVATE KEY-----"""
'''
