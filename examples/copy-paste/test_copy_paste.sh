#!/usr/bin/env bash
# Runs two copy-paste processes on this machine and plays the human who pastes:
# the offer goes into the answerer's stdin, the answer into the offerer's,
# then each side types two lines. Passes when both print what the other typed
# and exit 0.
#   usage: test_copy_paste.sh /path/to/copy-paste [timeout-seconds]
set -u
BIN=${1:?usage: test_copy_paste.sh /path/to/copy-paste [timeout-seconds]}
LIMIT=${2:-40}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/weft-copy-paste.XXXXXX")
OFFER_PID=""
ANSWER_PID=""

cleanup() {
  # Only the two children this script started, by PID.
  for pid in $OFFER_PID $ANSWER_PID; do
    kill "$pid" 2>/dev/null
  done
  exec 3>&- 4>&-
  rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
  {
    echo "test_copy_paste: FAILED — $*"
    for f in offer answer; do
      echo "----- $f stdout -----"; cat "$DIR/$f.out" 2>/dev/null
      echo "----- $f stderr -----"; cat "$DIR/$f.err" 2>/dev/null
    done
  } >&2
  exit 1
}

START=$(date +%s)
left() { echo $((LIMIT - ($(date +%s) - START))); }

mkfifo "$DIR/offer.in" "$DIR/answer.in"
"$BIN" offer --loopback --exit-after 2 <"$DIR/offer.in" >"$DIR/offer.out" 2>"$DIR/offer.err" &
OFFER_PID=$!
exec 3>"$DIR/offer.in" # keeps the offerer's stdin open (our "keyboard")
"$BIN" answer --loopback --exit-after 2 <"$DIR/answer.in" >"$DIR/answer.out" 2>"$DIR/answer.err" &
ANSWER_PID=$!
exec 4>"$DIR/answer.in"

# Waits until file $1 has the line $2; prints the block between BEGIN and END.
wait_block() {
  while ! grep -q -- "^-----END WEFT $2-----\$" "$1" 2>/dev/null; do
    [ "$(left)" -gt 0 ] || fail "no $2 printed within ${LIMIT} s"
    sleep 0.1
  done
  sed -n "/^-----BEGIN WEFT $2-----\$/,/^-----END WEFT $2-----\$/p" "$1"
}

wait_block "$DIR/offer.out" OFFER >&4 || exit 1
wait_block "$DIR/answer.out" ANSWER >&3 || exit 1
# Lines typed before the channel opens are sent once it is open.
printf 'hello from the offerer\nsecond line from the offerer\n' >&3
printf 'hello from the answerer\nsecond line from the answerer\n' >&4

# Wait for both, bounded; each exits after receiving 2 messages.
for who in OFFER ANSWER; do
  pid_var=${who}_PID
  pid=${!pid_var}
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(left)" -gt 0 ] || fail "$who still running after ${LIMIT} s"
    sleep 0.1
  done
  wait "$pid"
  rc=$?
  eval "${who}_PID=''"
  [ "$rc" -eq 0 ] || fail "$who exited with $rc"
done

grep -qx 'received: hello from the answerer' "$DIR/offer.out" || fail "offerer missed line 1"
grep -qx 'received: second line from the answerer' "$DIR/offer.out" || fail "offerer missed line 2"
grep -qx 'received: hello from the offerer' "$DIR/answer.out" || fail "answerer missed line 1"
grep -qx 'received: second line from the offerer' "$DIR/answer.out" || fail "answerer missed line 2"
grep -q '^a=candidate:' "$DIR/offer.out" || fail "the offer carried no candidate"
if grep '^a=candidate:' "$DIR/offer.out" "$DIR/answer.out" | grep -v -E ' (127\.0\.0\.1|::1) ' >/dev/null; then
  fail "--loopback printed a non-loopback candidate"
fi
echo "test_copy_paste: OK — both sides received 2 messages in $(($(date +%s) - START)) s"
