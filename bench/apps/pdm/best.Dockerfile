# best: PDM's "Use PDM in a multi-stage Dockerfile" (https://pdm-project.org/latest/usage/advanced/
# #use-pdm-in-a-multi-stage-dockerfile): a builder stage with PDM, PDM_CHECK_UPDATE=false,
# pyproject.toml + pdm.lock, `pdm install --check --prod --no-editable`, then a runtime stage from the
# same image receiving the project's .venv and the source. PDM's cache on a cache mount (the bench's
# "best" has the tool's download cache on a mount; the page has none).
# Adapted to this machine: the local base as ARG BASE; PDM at Strata's version, with 'hishel<2'
# (PDM 2.29 breaks with hishel 2); --no-self instead of copying the source into the builder, since
# this project is not a distribution (the page's project is, and copies src/ first); Strata's user
# and command.
ARG BASE=local/strata-python:test
FROM ${BASE} AS builder
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
RUN pip install --no-cache-dir pdm==2.29.4 'hishel<2'
ENV PDM_CHECK_UPDATE=false PDM_CACHE_DIR=/root/.cache/pdm
COPY pyproject.toml pdm.lock /project/
WORKDIR /project
RUN --mount=type=cache,target=/root/.cache/pdm pdm install --check --prod --no-editable --no-self

FROM ${BASE}
COPY --from=builder /project/.venv/ /project/.venv
ENV PATH="/project/.venv/bin:$PATH" PYTHONUNBUFFERED=1
WORKDIR /project
COPY . /project
USER 10001:10001
EXPOSE 80
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
