# shellcheck shell=bash
# What every demo scene prints with: colours (off when tools/demo.sh says
# DEMO_COLOR=0), a scene's section titles, the commands it shows, and
# indented output.
B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
[ "${DEMO_COLOR:-1}" = 1 ] || B='' G='' R='' N=''
title() { printf '\n%s-- %s --%s\n' "$B" "$*" "$N"; }
run() { printf '%s$ %s%s\n' "$B" "$*" "$N"; }
indent() { sed 's/^/    /'; }
