# Stage 1: build the wheel. It carries everything the app needs at run time (templates,
# Lua scripts, migrations, the snippet, static files); the image never sees the checkout.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server ./server
COPY static ./static
COPY snippet ./snippet
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

# Stage 2: install the wheel (not the source) with the PostgreSQL driver and hiredis
# (the "fast" extra: Redis replies parsed in C).
FROM python:3.11-slim
COPY --from=build /wheels /wheels
# A quoted "/wheels/ringtrail-*.whl[postgres]" would not glob; resolve the file first.
RUN wheel="$(ls /wheels/ringtrail-*.whl)" \
    && pip install --no-cache-dir "${wheel}[postgres,fast]" \
    && useradd --system ringtrail \
    && mkdir -p /var/lib/ringtrail \
    && chown ringtrail:ringtrail /var/lib/ringtrail
USER ringtrail
ENV RINGTRAIL_INSTANCE_PATH=/var/lib/ringtrail
EXPOSE 8000
CMD ["ringtrail", "serve"]
