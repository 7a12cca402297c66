# best: uv's Docker guide, "Intermediate layers" (https://docs.astral.sh/uv/guides/integration/docker/
# #intermediate-layers, and its "Caching" and "Compiling bytecode" sections): uv.lock and
# pyproject.toml bind-mounted, `uv sync --locked --no-install-project` with uv's cache on a cache
# mount and UV_LINK_MODE=copy, then the source, then `uv sync --locked` for the project.
# Adapted to this machine: uv comes from PyPI (`pip install uv==<Strata's version>`) instead of
# `COPY --from=ghcr.io/astral-sh/uv`, which is not reachable; the local base as ARG BASE;
# UV_PYTHON_DOWNLOADS=0 (the guide's multistage example) so the image's python is used; --no-dev and
# Strata's user and command. The guide's venv is the project's .venv, put on PATH.
ARG BASE=local/strata-python:test
FROM ${BASE}
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-install-project --no-dev
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 80
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
