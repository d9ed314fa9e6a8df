/*
    Credentials: password fields, private keys, SNMP communities, bind and shared secrets.

    No nocase (it multiplies atoms); case variants are spelled out. A keyword only counts
    when a separator follows it (":", "=", an XML element, or a space in config files that
    use one). Values are bounded to the rest of the line; the validators reject empty,
    masked and placeholder values.
*/

rule credentials_password_field
{
    meta:
        category = "credentials"
        severity = "high"
        description = "Password assignment (key: value, key=value, JSON, XML element)"
        validator = "password_field"
    strings:
        $mixed = /[Pp]ass(word|wd)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        // JOBPASSWORD is a PJL job PIN, reported by printer_pjl_job_pin instead
        $upper = /(^|[^B]|[^O]B|[^J]OB)PASS(WORD|WD)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $pwd = /(pwd|Pwd|PWD)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        // the opening "<" is part of the match so "</Password>" is told apart
        $xml = /<[A-Za-z0-9_:.\-]{0,32}([Pp]ass(word|wd)|PASS(WORD|WD)|pwd|Pwd|PWD)>[^<\r\n]{0,130}/ ascii wide
    condition:
        any of them
}

rule credentials_private_key
{
    meta:
        category = "credentials"
        severity = "critical"
        description = "PEM/OpenSSH/PGP private key block"
        validator = "private_key"
    strings:
        $pem = /-----BEGIN [A-Z0-9 ]{0,20}PRIVATE KEY( BLOCK)?-----[A-Za-z0-9+\/=\r\n\\:,. \-]{0,400}/ ascii wide
    condition:
        any of them
}

rule credentials_snmp_community
{
    meta:
        category = "credentials"
        severity = "medium"
        description = "SNMP community string"
        validator = "credential_value"
    strings:
        // net-snmp snmpd.conf: rocommunity public
        $rocommunity = /(ro|rw|RO|RW)community[ \t]{1,8}[^ \t\r\n]{1,64}/ ascii wide
        // IOS style: snmp-server community public RO
        $server = /community[ \t]{1,8}[^ \t\r\n]{1,64}[ \t]{1,8}(RO|RW|ro|rw)([^A-Za-z]|$)/ ascii wide
        // printer web/XML configs: get-community-name: x, CommunityName=x, <Community>x
        $assign = /[Cc]ommunity([\- _]?([Nn]ame|[Ss]tring))?["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $xml = /<[A-Za-z0-9_:.\-]{0,32}[Cc]ommunity([\- _]?([Nn]ame|[Ss]tring))?>[^<\r\n]{0,130}/ ascii wide
    condition:
        any of them
}

rule credentials_bind_secret
{
    meta:
        category = "credentials"
        severity = "high"
        description = "LDAP bind/root password (bindpw, rootpw)"
        validator = "credential_value"
    strings:
        // ldap.conf / slapd.conf write "bindpw secret" with a space only
        $bindpw = /(bind|Bind|BIND|root|Root|ROOT) ?(pw|PW|Pw)["']?([ \t]{0,4}[:=]|[ \t]{1,4})[ \t]{0,4}[^\r\n]{0,130}/ ascii wide
    condition:
        any of them
}

rule credentials_shared_secret
{
    meta:
        category = "credentials"
        severity = "high"
        description = "Wi-Fi passphrase, WLAN key material, pre-shared key or RADIUS shared secret"
        validator = "credential_value"
    strings:
        $assign = /([Pp]assphrase|PASSPHRASE|wpa_psk|[Pp]re-?[Ss]hared-?[Kk]ey|PRE-?SHARED-?KEY|PSK|keyMaterial|KeyMaterial|[Ss]hared[Ss]ecret|SHARED_SECRET)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $xml = /<[A-Za-z0-9_:.\-]{0,32}([Pp]assphrase|PASSPHRASE|wpa_psk|[Pp]re-?[Ss]hared-?[Kk]ey|PRE-?SHARED-?KEY|PSK|keyMaterial|KeyMaterial|[Ss]hared[Ss]ecret|SHARED_SECRET)>[^<\r\n]{0,130}/ ascii wide
    condition:
        any of them
}

rule credentials_keyed_secret
{
    meta:
        category = "credentials"
        severity = "high"
        description = "Secret assigned to a credential key (smtp_pass, ldap_bind_pw, auth_token, client_secret, wifi psk...)"
        validator = "credential_key"
    strings:
        // The key's leading words are part of the match so the validator sees the whole key
        // (docs/detection.md: the last word must be a secret word; "bypass=" is refused there).
        $pass = /[A-Za-z0-9_.\-]{0,32}(pass|Pass|PASS)(code|Code|CODE)?["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $pw = /[A-Za-z0-9]{2,24}[_.\-](pw|PW|Pw)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $secret = /[A-Za-z0-9_.\-]{0,32}(secret|Secret|SECRET)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $token = /[A-Za-z0-9_.\-]{0,32}(token|Token|TOKEN)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $psk = /[A-Za-z0-9_.\-]{0,32}(psk|Psk|PSK)["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        $credential = /[A-Za-z0-9_.\-]{0,32}(credential|Credential|CREDENTIAL)[sS]?["']?[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,130}/ ascii wide
        // XML elements: <SmtpPassword>x</SmtpPassword>, <AuthToken>x</AuthToken>
        $xml = /<[A-Za-z0-9_:.\-]{0,32}([Pp]ass(code)?|PASS|[Ss]ecret|SECRET|[Tt]oken|TOKEN|[Pp]sk|PSK)>[^<\r\n]{0,130}/ ascii wide
    condition:
        any of them
}
