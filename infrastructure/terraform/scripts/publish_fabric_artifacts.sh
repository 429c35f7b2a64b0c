#!/usr/bin/env bash
# Publish the Altaviz wheel into the Fabric environment and the job entry point into OneLake.
# Run by terraform (terraform_data.artifacts) with WORKSPACE_ID, ENVIRONMENT_ID, LAKEHOUSE_ID,
# WHEEL, ENTRY_POINT and ENTRY_POINT_PATH set; signs in through the Azure CLI's account.
set -euo pipefail

for var in WORKSPACE_ID ENVIRONMENT_ID LAKEHOUSE_ID WHEEL ENTRY_POINT ENTRY_POINT_PATH; do
  if [[ -z "${!var:-}" ]]; then
    echo "publish_fabric_artifacts: $var is not set" >&2
    exit 2
  fi
done
for file in "$WHEEL" "$ENTRY_POINT"; do
  [[ -f "$file" ]] || { echo "publish_fabric_artifacts: $file does not exist" >&2; exit 2; }
done
command -v az >/dev/null || { echo "publish_fabric_artifacts: the Azure CLI (az) is required" >&2; exit 2; }

fabric_api="https://api.fabric.microsoft.com/v1/workspaces/$WORKSPACE_ID/environments/$ENVIRONMENT_ID"
fabric_token=$(az account get-access-token --resource https://api.fabric.microsoft.com --query accessToken -o tsv)
storage_token=$(az account get-access-token --resource https://storage.azure.com --query accessToken -o tsv)

# 1. The wheel into the environment's staging libraries, then publish the environment.
curl --fail-with-body --silent --show-error -X POST "$fabric_api/staging/libraries" \
  -H "Authorization: Bearer $fabric_token" -F "file=@$WHEEL"
curl --fail-with-body --silent --show-error -X POST "$fabric_api/staging/publish" \
  -H "Authorization: Bearer $fabric_token" -H "Content-Length: 0"

# 2. The entry point into the ML lakehouse's Files (ADLS Gen2 API: create, append, flush).
file_url="https://onelake.dfs.fabric.microsoft.com/$WORKSPACE_ID/$LAKEHOUSE_ID/$ENTRY_POINT_PATH"
size=$(wc -c <"$ENTRY_POINT")
auth=(-H "Authorization: Bearer $storage_token" -H "x-ms-version: 2023-11-03")
curl --fail-with-body --silent --show-error -X PUT "$file_url?resource=file" "${auth[@]}" -H "Content-Length: 0"
curl --fail-with-body --silent --show-error -X PATCH "$file_url?action=append&position=0" "${auth[@]}" \
  -H "Content-Type: application/octet-stream" --data-binary "@$ENTRY_POINT"
curl --fail-with-body --silent --show-error -X PATCH "$file_url?action=flush&position=$size" "${auth[@]}" \
  -H "Content-Length: 0"

echo "published $(basename "$WHEEL") to environment $ENVIRONMENT_ID and $ENTRY_POINT_PATH to OneLake"
