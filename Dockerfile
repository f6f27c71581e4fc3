# syntax=docker/dockerfile:1
# Stage 1 builds wheels (ours and every dependency's); the image installs them, not the source tree:
# a regular, non-editable install, as any operator's pip would do (the migrations ship in the package).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY sql sql
COPY schedulesy schedulesy
COPY commands commands
COPY queries queries
COPY projections projections
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels schedulesy
ENV PYTHONUNBUFFERED=1
USER nobody
EXPOSE 8000
CMD ["schedulesy", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
