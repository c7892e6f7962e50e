FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY static ./static
COPY snippet ./snippet
# Editable: the app serves snippet/ and static/ from this checkout.
RUN pip install --no-cache-dir -e '.[postgres]' && useradd --system ringtrail
USER ringtrail
ENV RINGTRAIL_INSTANCE_PATH=/var/lib/ringtrail
EXPOSE 8000
CMD ["ringtrail", "serve"]
