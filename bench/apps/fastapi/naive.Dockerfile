# naive: the seed Dockerfile with the whole context copied before the install, so any source edit
# re-runs `pip install` (from the network: no cache).
ARG BASE=local/strata-python:test
FROM ${BASE}
WORKDIR /code
COPY . /code
# The local base is Debian's python (PEP 668): install into a venv, as Strata does.
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade -r /code/requirements.txt
ENV PATH=/opt/venv/bin:$PATH
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
