FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schedulesy schedulesy
COPY commands commands
COPY queries queries
COPY projections projections
COPY sql sql
RUN pip install --no-cache-dir -e .
# editable install: migrations are read from /app/sql
ENV PYTHONUNBUFFERED=1
USER nobody
EXPOSE 8000
CMD ["schedulesy", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
