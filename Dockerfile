# An image with everything `make run` and `make test` need, for CI runners
# without root (they cannot apt-get install). Debian 12, the packages come
# from tools/prereqs.sh itself (so the list cannot drift), plus the
# optional tools whose tests are otherwise skipped (clang for the fuzz
# targets, valgrind for memcheck, xmllint for the junit check, git for
# the commit in results.json, iproute2 for the two-hosts mode as root).
#
#   docker build -t socket-lessons .
#   docker run --rm --ulimit nofile=65536:65536 socket-lessons make test
#   docker run --rm socket-lessons make run ARGS='--shard 1/4'
FROM debian:12

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
COPY tools/prereqs.sh /tmp/prereqs.sh
RUN apt-get update -q \
    && sh /tmp/prereqs.sh /usr/bin/python3 \
    && apt-get install -y -q --no-install-recommends \
       clang valgrind libxml2-utils git iproute2 ca-certificates \
    && rm -rf /var/lib/apt/lists/* /tmp/prereqs.sh

# Run as a plain user by default, as most CI runners do; `--user root`
# for the two-hosts mode.
RUN useradd --create-home --uid 1000 ci
WORKDIR /src
COPY --chown=ci:ci . /src
USER ci
RUN make build
CMD ["make", "test"]
