# best: Poetry's FAQ, "Poetry busts my Docker cache because it requires me to COPY my source files in
# before installing 3rd party dependencies" (https://python-poetry.org/docs/faq/): pinned Poetry,
# poetry.lock + pyproject.toml, `poetry install --no-root --no-directory`, then the source, then
# `poetry install` for the root package. Poetry's cache on a cache mount (the bench's "best" has the
# tool's download cache on a mount; the FAQ has none), so the virtualenv goes into the project
# (POETRY_VIRTUALENVS_IN_PROJECT, Poetry's configuration docs): Poetry's default puts it under the
# cache directory, which a mount would take away.
# Adapted to this machine: the local base as ARG BASE; Poetry at Strata's version; --only main and
# Strata's user and command.
ARG BASE=local/strata-python:test
FROM ${BASE}
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_ROOT_USER_ACTION=ignore
RUN pip install --no-cache-dir poetry==2.5.1
ENV POETRY_NO_INTERACTION=1 POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_CACHE_DIR=/root/.cache/pypoetry
WORKDIR /code
COPY poetry.lock pyproject.toml /code/
RUN --mount=type=cache,target=/root/.cache/pypoetry \
    poetry install --no-interaction --no-ansi --no-root --no-directory --only main
COPY . /code
RUN --mount=type=cache,target=/root/.cache/pypoetry \
    poetry install --no-interaction --no-ansi --only main
ENV PATH="/code/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 80
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "80"]
