# The bienestar image: the locked project (uv.lock) with Airflow's postgres and celery extras, for docker-compose.yml.
#
#   docker build -t bienestar:local .        (or let `docker compose up` build it)
#
# Every Airflow process (api-server, scheduler, dag-processor, triggerer, celery worker) and the demo's generator and
# portal run from this one image; the compose file only chooses the command. Nothing is installed at start-up.
FROM python:3.11-slim-bookworm

# uv is pinned to the version the Makefile uses, so the image resolves uv.lock exactly as `make` does.
ARG UV_VERSION=0.13.8

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/bienestar/.venv

RUN pip install "uv==${UV_VERSION}"

WORKDIR /opt/bienestar

# Dependencies first, from the lock alone: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --extra postgres --extra celery

# Then the project itself (installed editable: the DAGs folder and the packages are this directory).
COPY . .
RUN uv sync --frozen --no-dev --extra postgres --extra celery \
    && .venv/bin/python -m compileall -q bienestar sources transforms indicators expectations reports cities dags plugins

# The code and the environment stay owned by root (read-only to the processes); what they write goes to
# BIENESTAR_HOME and AIRFLOW_HOME, which docker-compose.yml mounts as named volumes. Creating the folders here,
# owned by the runtime user, makes a fresh named volume start with that owner.
RUN groupadd --gid 50000 bienestar \
    && useradd --uid 50000 --gid 50000 --home-dir /home/bienestar --create-home --shell /usr/sbin/nologin bienestar \
    && mkdir -p /var/lib/bienestar /opt/airflow/logs \
    && chown -R bienestar:bienestar /var/lib/bienestar /opt/airflow

ENV PATH=/opt/bienestar/.venv/bin:$PATH \
    VIRTUAL_ENV=/opt/bienestar/.venv \
    BIENESTAR_HOME=/var/lib/bienestar \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/bienestar/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/bienestar/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

USER 50000:50000

CMD ["bienestar", "--help"]
