# best: `docker init`'s Python Dockerfile (docker/docs content/manuals/reference/cli/docker/init.md,
# "Python" template; https://docs.docker.com/guides/python/containerize/): pip installs into the
# image's system site-packages (the official python image allows it), its cache on a BuildKit cache
# mount, requirements.txt bind-mounted into the install step, then the source.
# Adapted to this machine: the local base image (a stand-in for the official python image, built
# like it: system pip, no EXTERNALLY-MANAGED marker) as ARG BASE; the numeric user Strata's image
# runs as instead of `adduser appuser` (same uid, one step less); Strata's workdir and command.
ARG BASE=local/strata-python:test
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Build-time only, as Strata's build_env.
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
WORKDIR /code
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    python -m pip install -r requirements.txt
USER 10001:10001
COPY . .
EXPOSE 80
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
