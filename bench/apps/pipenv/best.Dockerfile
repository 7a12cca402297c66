# best: Pipenv's "Docker Containers" page (https://pipenv.pypa.io/en/latest/docker.html): a builder
# stage with Pipenv, PIPENV_VENV_IN_PROJECT=1, Pipfile + Pipfile.lock, `pipenv sync`; a runtime
# stage from the same image receiving the .venv, then the source. Pipenv's cache (which it gives
# pip) on a cache mount (the bench's "best" has the tool's download cache on a mount; the page has
# none).
# Adapted to this machine: the local base as ARG BASE; Pipenv at Strata's version, installed with
# the system pip as the page does (`pip install --user`, here system-wide); Strata's user and command.
ARG BASE=local/strata-python:test
FROM ${BASE} AS builder
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
RUN pip install --no-cache-dir pipenv==2026.10.3
ENV PIPENV_VENV_IN_PROJECT=1 PIPENV_CACHE_DIR=/root/.cache/pipenv
ADD Pipfile.lock Pipfile /usr/src/
WORKDIR /usr/src
RUN --mount=type=cache,target=/root/.cache/pipenv pipenv sync

FROM ${BASE} AS runtime
RUN mkdir -v /usr/src/.venv
COPY --from=builder /usr/src/.venv/ /usr/src/.venv/
WORKDIR /usr/src/
COPY . ./
ENV PATH="/usr/src/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 80
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
