"""French wording of the SMS settings checks (issue 19 item 12: a trunk may be a host with its port)."""

FR = {
    "trunk: enter a PJSIP endpoint or gateway name (letters, digits, '.', '-', '_'), or a SIP host with its port "
    "such as trunk.example.com:5080.":
        "trunk : indiquez le nom d'un point de terminaison PJSIP ou d'une passerelle (lettres, chiffres, « . », "
        "« - », « _ »), ou un hôte SIP avec son port, par exemple trunk.example.com:5080.",
}
