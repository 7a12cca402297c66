# seed: examples/fastapi/Dockerfile.reference (FastAPI's documented recipe: manifests first,
# pip without a cache, source last), with the bench's base image and a venv.
ARG BASE=local/strata-python:test
FROM ${BASE}
WORKDIR /code
COPY ./requirements.txt /code/requirements.txt
# The local base is Debian's python (PEP 668): install into a venv, as Strata does.
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade -r /code/requirements.txt
ENV PATH=/opt/venv/bin:$PATH
COPY ./app /code/app
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
