#!/usr/bin/env bash
# The hellomdm tour: a tenant, a user with a second factor, one simulated Windows 11 device,
# the PIN recovery policy assigned through a group, Windows Hello and a non-destructive PIN
# reset. README.md shows this file verbatim; CI runs it (examples/walkthrough.sh, which
# starts a throw-away server, from cmd/hellomdm's TestTourScript).
#
# Start the server first, in its own terminal (it holds that terminal until Ctrl-C):
#     HELLOMDM_ADMIN_TOKEN=hmdm_tour-secret go run ./cmd/hellomdm serve
# then, in a second terminal at the repository root, paste the lines below, or run them:
#     export HELLOMDM_ADMIN_TOKEN=hmdm_tour-secret
#     bash -e examples/tour.sh
hellomdm=${HELLOMDM:-go run ./cmd/hellomdm}   # or a built binary: go build ./cmd/hellomdm
server=${HELLOMDM_SERVER:-https://localhost:8443}
A="$hellomdm admin --server $server --ca-file hellomdm-data/ca.pem"
D="$hellomdm device --state ./alice-pc"

# A tenant, a user with a second factor, and the PIN reset service onboarded. Every
# --tenant, --user, --group, --profile and --device takes a name or an ID.
$A tenant create --id 6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01 --name Contoso --domain contoso.com
$A user create --tenant contoso.com --upn alice@contoso.com --password 'Correct horse 1'
otp_uri=$($A -q user totp --tenant contoso.com --user alice@contoso.com)  # what a phone scans
$A pinreset consent --tenant contoso.com --app service
$A pinreset consent --tenant contoso.com --app client

# A simulated Windows 11 device enrolls (discovery → XCEP → WSTEP, Windows-shaped CSR).
$D enroll --server "$server" --email alice@contoso.com --password 'Correct horse 1' \
          --ca-file hellomdm-data/ca.pem --device-name ALICE-PC

# Policy as Intune exports it, assigned to a group.
$A group create --tenant contoso.com --name 'WHfB pilot'
$A group add-member --tenant contoso.com --group 'WHfB pilot' --id alice@contoso.com
$A profile import --tenant contoso.com examples/policy/whfb-pin-recovery.settings-catalog.json
$A profile assign --tenant contoso.com --profile 'WHfB - Enable PIN recovery' --group 'WHfB pilot'
$D sync                                   # the device checks in and applies the node
$A profile status --tenant contoso.com --profile 'WHfB - Enable PIN recovery'  # succeeded

# Windows Hello and PIN reset on the device.
$D hello provision --user alice@contoso.com --pin 135792
$D status                                 # ... CanReset : DestructiveAndNonDestructive
$D reset-pin --user alice@contoso.com --from lockscreen --password 'Correct horse 1' \
             --otp "$($hellomdm authenticator code --uri "$otp_uri")" --new-pin 246801
$D hello unlock --user alice@contoso.com --pin 246801   # same NgcKeyId, new PIN
