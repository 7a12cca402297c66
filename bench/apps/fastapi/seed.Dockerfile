# seed: examples/fastapi/Dockerfile.reference (FastAPI's documented recipe, "FastAPI in Containers":
# manifests first, pip without a cache into the system site-packages, source last), with the
# bench's base image.
ARG BASE=local/strata-python:test
FROM ${BASE}
WORKDIR /code
COPY ./requirements.txt /code/requirements.txt
RUN pip install --no-cache-dir --upgrade -r /code/requirements.txt
COPY ./app /code/app
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
