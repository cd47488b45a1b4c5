# Two commands for a newcomer: `make run` (service + embedded PostgreSQL + demo data) and `make test`.
# Everything else is for day-to-day work. Only python3 (>= 3.11), a C compiler and make are assumed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint fmt install worker migrate seed-demo bench profile reliability lock clean docker-secrets

$(STAMP): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PHR needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## serve the API on 127.0.0.1:8000 with an embedded PostgreSQL and demo data
	$(BIN)/phr serve

test: $(STAMP)  ## the whole test suite against a real (embedded) PostgreSQL
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(STAMP)
	$(BIN)/phr worker

migrate: $(STAMP)
	$(BIN)/phr migrate

seed-demo: $(STAMP)
	$(BIN)/phr seed-demo

# The benchmarks of ../shared/BENCHMARKS.md against a seeded province: run `phr bench seed` once first (same
# PHR_DATA_DIR or PHR_DATABASE_URL). BENCH_ARGS passes options, e.g. BENCH_ARGS="--only record --seconds 10".
bench: $(STAMP)
	$(BIN)/phr bench run $(BENCH_ARGS)

# A pyinstrument profile of the record and booking requests, in-process, against the same seeded database:
# bench/results/<date>-profile-<scenario>.txt and .html. PROFILE_ARGS passes options, e.g. "--only record".
profile: $(STAMP)
	$(BIN)/phr bench profile $(PROFILE_ARGS)

# The long versions of the attack and fault tests (issue 11): every test marked `reliability`, at the scale the
# issue names. CI runs the same tests at a smaller scale inside `make test` (see tests/scale.py).
reliability: $(STAMP)
	PHR_RELIABILITY=long $(BIN)/pytest -m reliability

# Regenerate the pinned, hashed lock files after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --group dev --python-version 3.11 --generate-hashes -q -o requirements-dev.lock

clean:
	rm -rf $(VENV) .phr-data/pg-test

# Secrets for docker-compose.yml, generated once into deploy/secrets/ (git-ignored).
docker-secrets: $(STAMP)
	@mkdir -p deploy/secrets && chmod 700 deploy/secrets
	@test -f deploy/secrets/secret_key || $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > deploy/secrets/secret_key
	@test -f deploy/secrets/jwt_private_key.pem || $(BIN)/python -c 'from cryptography.hazmat.primitives.asymmetric import ec; from cryptography.hazmat.primitives import serialization as s; print(ec.generate_private_key(ec.SECP256R1()).private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode(), end="")' > deploy/secrets/jwt_private_key.pem
	@test -f deploy/secrets/sms_gateway_auth || echo "Bearer replace-with-your-sms-gateway-key" > deploy/secrets/sms_gateway_auth
	@chmod 600 deploy/secrets/*
	@echo "secrets written to deploy/secrets/"
