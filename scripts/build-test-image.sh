#!/usr/bin/env bash
# Builds tshub-test-singleuser:latest without any registry: `docker import` of a tiny root file system
# holding only empty directories. The image has no programs of its own; the tests run the HOST's
# jupyterhub-singleuser in it through read-only bind mounts of /usr, /etc, /lib, /lib64, /bin, /sbin
# (see test/support/docker-test-image.ts). Idempotent: does nothing when the image exists (pass
# --force to rebuild). Prints the image name on stdout.
set -euo pipefail
image=tshub-test-singleuser:latest
if [ "${1:-}" != "--force" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# Mount points for the host's system directories, plus the writable places a Jupyter server expects.
for d in usr etc lib lib64 bin sbin home home/jovyan home/jovyan/work root srv tmp var var/tmp run proc sys dev; do
  mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp" "$root/var/tmp"
# jovyan's home is writable by anyone: containers may run with a uid the image does not know.
chmod 0777 "$root/home/jovyan" "$root/home/jovyan/work"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'WORKDIR /home/jovyan' \
    --change 'CMD ["jupyterhub-singleuser"]' \
    --change 'LABEL org.tshub.test-image=1' \
    - "$image" >/dev/null
echo "$image"
