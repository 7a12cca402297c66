# naive: the seed Dockerfile with the whole context copied before the install, so any source edit
# re-runs `pip install` (from the network: no cache).
ARG BASE=local/strata-python:test
FROM ${BASE}
WORKDIR /code
COPY . /code
RUN pip install --no-cache-dir --upgrade -r /code/requirements.txt
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
