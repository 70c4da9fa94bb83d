#!/bin/bash
# Run once by the influxdb:2.7 image after setup: maps the v1 database/retention policy names
# that InfluxQL queries (Grafana, capacity planning) use to the bucket, and creates a v1 read
# user for Grafana (its password from the secret file JL_GRAFANA_PASSWORD_FILE).
set -euo pipefail
BUCKET_ID=$(influx bucket list --name "${DOCKER_INFLUXDB_INIT_BUCKET}" --hide-headers | awk '{print $1}')
influx v1 dbrp create --db "${DOCKER_INFLUXDB_INIT_BUCKET}" --rp autogen --bucket-id "${BUCKET_ID}" --default
influx v1 auth create --username "${JL_GRAFANA_USER}" --password "$(cat "${JL_GRAFANA_PASSWORD_FILE}")" --read-bucket "${BUCKET_ID}"
