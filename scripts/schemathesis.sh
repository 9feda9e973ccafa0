#!/usr/bin/env bash
# Fuzzes the JSON API against its own OpenAPI document with schemathesis:
# starts `hub serve --demo` on a free port in a temporary data directory,
# makes an API token for each role, runs schemathesis once per role, then
# once more for the token operations and once for deleting an account, each
# as a contributor of its own; stops the server and prints one summary line
# per run.
#
# Every response must match /api/v1/openapi.json: no 5xx, documented status
# codes, content types, headers and body schemas; requests without the token
# are refused; the stateful phase follows links between operations (create,
# then read, change and delete); and the server logs no error.
#
#   scripts/schemathesis.sh [extra schemathesis options]
#
# Settings (environment):
#   ST_MAX_EXAMPLES  test cases per operation and phase (default 5)
#   ST_MAX_TIME      time budget in seconds per role; fuzzing and stateful
#                    testing repeat until it is spent (default: unset)
#   ST_PHASES        examples,coverage,fuzzing,stateful (default: all four)
#   ST_ROLES         roles to run as, in order (default "admin contributor")
#   ST_ENDING        on (default) or off: after the roles, fuzz the operations
#                    that end a caller (revoking tokens, deleting the account)
#                    as contributors of their own
#   ST_SEED          seed, to repeat a run exactly (default: random, printed)
#   ST_WORKERS       concurrent workers (default 1: with more, Hypothesis can
#                    trip over a CPython 3.11 race in the ast module)
#   ST_REPORT_DIR    keep the JUnit and NDJSON reports, the generated
#                    schemathesis.toml and the server log here
#   HUB_BIN          the hub binary (default: built with `cargo build`)
#
# The defaults are the short run scripts/test makes (about 80 seconds). A
# longer run, ten minutes per role with more cases per operation:
#   ST_MAX_EXAMPLES=100 ST_MAX_TIME=600 scripts/schemathesis.sh
# Extra arguments go to `schemathesis run`, for example
# `--include-tag Ideas` or `--include-operation-id createIdea` (with
# ST_ENDING=off, or the runs that end a caller take them too).
set -euo pipefail
cd "$(dirname "$0")/.."

# The version this API was last checked with; installed when missing.
version=4.32.5
max_examples="${ST_MAX_EXAMPLES:-5}"
roles="${ST_ROLES:-admin contributor}"
workers="${ST_WORKERS:-1}"

installed="$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [ "$installed" != "$version" ]; then
  echo "installing schemathesis $version"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi
schemathesis() { python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())' "$@"; }

if [ -z "${HUB_BIN:-}" ]; then
  cargo build --quiet --bin hub
  HUB_BIN="${CARGO_TARGET_DIR:-target}/debug/hub"
fi
hub_bin="$(realpath "$HUB_BIN")"
# hub refuses HUB_* settings it does not know.
unset HUB_BIN

work="$(mktemp -d)"
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "${ST_REPORT_DIR:-}" ]; then
    mkdir -p "$ST_REPORT_DIR"
    cp -r "$work/reports/." "$ST_REPORT_DIR/" 2>/dev/null || true
    cp "$work/schemathesis.toml" "$work/server.log" "$ST_REPORT_DIR/" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
export HUB_DATA_DIR="$work/data"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# Digests off: nothing but the requests under test changes the data.
HUB_LISTEN="127.0.0.1:$port" HUB_DIGESTS=off RUST_LOG=warn \
  "$hub_bin" serve --demo >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  curl -fs "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/health/ready" >/dev/null || {
  echo "the server did not start"; tail -50 "$work/server.log"; exit 1
}

# An account of its own per role, so the demo accounts stay as they are.
# token_for NAME [ROLE]: an account schemathesis-NAME with ROLE (default
# NAME itself), and a new API token for it.
token_for() {
  local email="schemathesis-$1@example.nhs.uk"
  "$hub_bin" users add --email "$email" --role "${2:-$1}" --name "Schemathesis $1" >/dev/null
  "$hub_bin" tokens create --email "$email" --name schemathesis 2>/dev/null
}

# Half the time, {id}, {slug} and {kind} in paths are drawn from what the
# demo data holds (read as an administrator, so every role also asks for
# things it may not see): with random values alone the operations behind
# them would only ever answer 404.
python3 - "$base" "$(token_for admin)" "$work/schemathesis.toml" <<'PY'
import json
import sys
import urllib.request

base, token, out = sys.argv[1:4]


def get(path):
    request = urllib.request.Request(f"{base}/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def items(body):
    return body.get("items", []) if isinstance(body, dict) else body


slugs, ids = [], []
for consultation in items(get("/consultations")):
    slug = consultation["slug"]
    slugs.append(slug)
    ids.append(consultation["id"])
    ids += [q["id"] for q in get(f"/consultations/{slug}")["questions"]]
    ids += [r["id"] for r in items(get(f"/consultations/{slug}/responses"))]
for idea in items(get("/ideas")):
    ids.append(idea["id"])
    ids += [c["id"] for c in items(get(f"/ideas/{idea['id']}/comments"))]
for path in ("/reports", "/themes", "/inbox"):
    ids += [x["id"] for x in items(get(path))]
slugs += [t["slug"] for t in get("/tags")]

dictionaries = {"kinds": ["idea", "report", "consultation_response", "comment"], "slugs": slugs, "ids": ids}
with open(out, "w") as f:
    for name, values in dictionaries.items():
        if values:
            listed = ", ".join(json.dumps(v) for v in dict.fromkeys(values))
            f.write(f"[dictionaries.{name}]\nvalues = [{listed}]\n")
    f.write("[parameters]\n")
    for parameter, name in (("kind", "kinds"), ("slug", "slugs"), ("id", "ids")):
        if dictionaries[name]:
            f.write(f'"path.{parameter}" = {{ dictionary = "{name}", probability = 0.5 }}\n')
    # A request the document allows must never be refused as malformed
    # (400) or with any status the operation does not document; 422 is
    # expected beside the defaults because the document gives the fields'
    # types and the service gives the rules (required text, lengths, known
    # kinds, dates, nobody's health details), answered with a message per
    # field. 3xx and 5xx are not expected of any operation.
    f.write("[checks.positive_data_acceptance]\n")
    f.write('expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]\n')
PY

status=0
# One schemathesis run as the holder of a token. $1 names the run in its
# reports and summary line, $2 is the token, $3 more checks to leave out
# (comma-separated, or empty); the rest goes to `schemathesis run`.
fuzz() {
  local label="$1" token="$2" also_exclude="$3"
  shift 3
  echo "==> schemathesis as $label"
  local args=(
    --config-file "$work/schemathesis.toml"
    run "$base/api/v1/openapi.json"
    --header "Authorization: Bearer $token"
    # Every check (positive_data_acceptance as the [checks] section of the
    # generated config sets it).
    --checks all
    --max-examples "$max_examples"
    --workers "$workers"
    --request-timeout 30
    --no-color
    --report junit,ndjson
    --report-dir "$work/reports"
    --report-junit-path "$work/reports/junit-$label.xml"
    --report-ndjson-path "$work/reports/events-$label.ndjson"
  )
  if [ -n "$also_exclude" ]; then args+=(--exclude-checks "$also_exclude"); fi
  if [ -n "${ST_MAX_TIME:-}" ]; then args+=(--max-time "$ST_MAX_TIME"); fi
  if [ -n "${ST_PHASES:-}" ]; then args+=(--phases "$ST_PHASES"); fi
  if [ -n "${ST_SEED:-}" ]; then args+=(--seed "$ST_SEED"); fi
  # Run in the temporary directory: schemathesis keeps a cache in the
  # working directory, which would outlive the server it describes.
  if ! (cd "$work" && schemathesis "${args[@]}" "$@"); then status=1; fi
  # One line per run (scripts/test adds them up): the operations, and the
  # stateful scenarios as one more, that passed and that failed.
  python3 - "$work/reports/junit-$label.xml" "$label" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    suite = ET.parse(sys.argv[1]).getroot()
    tests = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
except (OSError, ET.ParseError):
    tests, failed = 1, 1
print(f"schemathesis: {tests - failed} passed, {failed} failed (as {sys.argv[2]})")
PY
}

for role in $roles; do
  # Operations that would end the run are left to the runs below: deleting
  # the caller's account, and revoking a token (the stateful phase links
  # listTokens to revokeToken, so it can revoke the very token it runs with).
  token="$(token_for "$role")"
  fuzz "$role" "$token" "" \
    --exclude-operation-id deleteMyAccount --exclude-operation-id revokeToken \
    "$@"
done

# The operations that end a caller, each as a contributor of its own who
# has submitted an idea, so that deleting the account has something to
# anonymise. Tokens first: creating, listing and revoking them, which may
# revoke the token the run holds (every answer after that must be the
# documented 401). Once the caller is gone, a method the path does not take
# is also refused with 401 before it can be 405, so these two runs leave
# that check to the role runs above. Extra arguments go to these runs too:
# an --include-* widens them, so set ST_ENDING=off with those.
# The idea goes under a theme of its own: the runs above may have retired
# or renamed any of the demo's themes (updateTheme is fuzzed as admin).
ending_theme() {
  curl -fsS -H "Authorization: Bearer $(token_for ending-themes board)" \
    -H 'Content-Type: application/json' -d "{\"name\":\"Ending runs $$\"}" \
    "$base/api/v1/themes" | python3 -c 'import json, sys; print(json.load(sys.stdin)["slug"])'
}
ending_contributor() {
  local token
  token="$(token_for "$1" contributor)"
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"title\":\"Shared rota view\",\"description\":\"One rota that every ward can read.\",\"expected_impact\":\"Fewer missed shifts.\",\"beneficiaries\":[\"staff\"],\"themes\":[\"$2\"]}" \
    "$base/api/v1/ideas" || { echo "could not submit an idea as $1" >&2; return 1; }
  echo "$token"
}
if [ "${ST_ENDING:-on}" != on ]; then
  :
elif theme="$(ending_theme)" && revoking="$(ending_contributor tokens "$theme")" \
  && deleting="$(ending_contributor deletion "$theme")"; then
  fuzz tokens "$revoking" unsupported_method \
    --include-operation-id createToken --include-operation-id listTokens \
    --include-operation-id revokeToken "$@"
  fuzz deletion "$deleting" unsupported_method --include-operation-id deleteMyAccount "$@"
  # The run must really have deleted the account: its token now gets 401.
  after="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $deleting" "$base/api/v1/me" || true)"
  if [ "$after" != 401 ]; then
    echo "deleteMyAccount was fuzzed but the account still answers $after"; status=1
  fi
else
  echo "schemathesis: 0 passed, 1 failed (could not make the contributors for the ending runs)"
  status=1
fi

if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines) ---"
  tail -50 "$work/server.log"
fi
# Graceful shutdown, and no server errors logged.
kill -TERM "$server"
wait "$server" || status=1
server=
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "the server logged errors:"; grep '"level":"ERROR"' "$work/server.log" | tail -20
  status=1
fi
exit "$status"
