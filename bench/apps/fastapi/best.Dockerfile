# best: the usual best-practice pattern: manifests first, pip's download cache on a BuildKit cache
# mount, source last; the same venv, environment, user and command as the Strata image. The venv
# is created in the install step, as in seed (Strata creates it in a step of its own).
ARG BASE=local/strata-python:test
FROM ${BASE}
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Build-time only, as Strata's build_env.
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
WORKDIR /code
COPY requirements.txt /code/
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt
COPY app /code/app
USER 10001:10001
EXPOSE 80
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
