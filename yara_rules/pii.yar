/*
    Personal identifiers: US SSN, e-mail addresses, telephone numbers.

    Every string is bounded and carries a literal atom of at least two bytes so that
    yara.compile(error_on_warning=True) accepts it (YARA atoms are at most 4 bytes and
    character classes never become atoms). Numbers with no keyword get their atom by
    spelling out a small literal alternation (e.g. "-01-".."-99-" for the SSN group).
    Guards ([^0-9...], or ^ / $ at the ends of the buffer) keep a match from starting or
    ending inside a longer run; a guard character is part of the match and the validators
    report the value span without it. Chunks are arbitrary slices, so no filesize/offset
    conditions.
*/

rule pii_ssn_formatted
{
    meta:
        category = "pii"
        severity = "high"
        description = "US Social Security number written AAA-GG-SSSS"
        validator = "ssn"
    strings:
        // atom: the "-GG-" group literal; group 00 is never issued so it is left out
        $ssn = /(^|[^0-9\-])[0-9]{3}(-01-|-02-|-03-|-04-|-05-|-06-|-07-|-08-|-09-|-10-|-11-|-12-|-13-|-14-|-15-|-16-|-17-|-18-|-19-|-20-|-21-|-22-|-23-|-24-|-25-|-26-|-27-|-28-|-29-|-30-|-31-|-32-|-33-|-34-|-35-|-36-|-37-|-38-|-39-|-40-|-41-|-42-|-43-|-44-|-45-|-46-|-47-|-48-|-49-|-50-|-51-|-52-|-53-|-54-|-55-|-56-|-57-|-58-|-59-|-60-|-61-|-62-|-63-|-64-|-65-|-66-|-67-|-68-|-69-|-70-|-71-|-72-|-73-|-74-|-75-|-76-|-77-|-78-|-79-|-80-|-81-|-82-|-83-|-84-|-85-|-86-|-87-|-88-|-89-|-90-|-91-|-92-|-93-|-94-|-95-|-96-|-97-|-98-|-99-)[0-9]{4}([^0-9\-]|$)/ ascii wide
    condition:
        any of them
}

rule pii_ssn_keyword
{
    meta:
        category = "pii"
        severity = "high"
        description = "US Social Security number after an SSN keyword, space-separated or undelimited"
        validator = "ssn_bare"
    strings:
        // dashed numbers are left to pii_ssn_formatted so one SSN gives one finding
        $kw = /(SSN|Ssn|ssn|SS#|S\.S\.N\.?|[Ss]ocial [Ss]ecurity|SOCIAL SECURITY)[^0-9\r\n]{0,24}[0-9]{3}( [0-9]{2} [0-9]{4}|[0-9]{6})([^0-9\-]|$)/ ascii wide
    condition:
        any of them
}

rule pii_email
{
    meta:
        category = "pii"
        severity = "low"
        description = "E-mail address"
        validator = "email"
    strings:
        // atom: "@" plus the first domain character (62 two-byte literals)
        $email = /(^|[^A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}(@a|@b|@c|@d|@e|@f|@g|@h|@i|@j|@k|@l|@m|@n|@o|@p|@q|@r|@s|@t|@u|@v|@w|@x|@y|@z|@A|@B|@C|@D|@E|@F|@G|@H|@I|@J|@K|@L|@M|@N|@O|@P|@Q|@R|@S|@T|@U|@V|@W|@X|@Y|@Z|@0|@1|@2|@3|@4|@5|@6|@7|@8|@9)[A-Za-z0-9\-]{0,62}(\.[A-Za-z0-9\-]{1,63}){1,4}/ ascii wide
    condition:
        any of them
}

rule pii_phone
{
    meta:
        category = "pii"
        severity = "low"
        description = "Telephone number (NANP or E.164 international)"
        validator = "phone"
    strings:
        // (312) 555-0147: atom "(" + first area-code digit
        $paren = /(\(2|\(3|\(4|\(5|\(6|\(7|\(8|\(9)[0-9]{2}\) ?[2-9][0-9]{2}[\-. ][0-9]{4}([^0-9]|$)/ ascii wide
        // 312-555-0147: atom is the last area digit, the dash and the first exchange digit
        $dashed = /(^|[^0-9+\-. ]|[^1] )[2-9][0-9](0-2|0-3|0-4|0-5|0-6|0-7|0-8|0-9|1-2|1-3|1-4|1-5|1-6|1-7|1-8|1-9|2-2|2-3|2-4|2-5|2-6|2-7|2-8|2-9|3-2|3-3|3-4|3-5|3-6|3-7|3-8|3-9|4-2|4-3|4-4|4-5|4-6|4-7|4-8|4-9|5-2|5-3|5-4|5-5|5-6|5-7|5-8|5-9|6-2|6-3|6-4|6-5|6-6|6-7|6-8|6-9|7-2|7-3|7-4|7-5|7-6|7-7|7-8|7-9|8-2|8-3|8-4|8-5|8-6|8-7|8-8|8-9|9-2|9-3|9-4|9-5|9-6|9-7|9-8|9-9)[0-9]{2}-[0-9]{4}([^0-9\-]|$)/ ascii wide
        // 312.555.0147
        $dotted = /(^|[^0-9+\-. ]|[^1] )[2-9][0-9](0\.2|0\.3|0\.4|0\.5|0\.6|0\.7|0\.8|0\.9|1\.2|1\.3|1\.4|1\.5|1\.6|1\.7|1\.8|1\.9|2\.2|2\.3|2\.4|2\.5|2\.6|2\.7|2\.8|2\.9|3\.2|3\.3|3\.4|3\.5|3\.6|3\.7|3\.8|3\.9|4\.2|4\.3|4\.4|4\.5|4\.6|4\.7|4\.8|4\.9|5\.2|5\.3|5\.4|5\.5|5\.6|5\.7|5\.8|5\.9|6\.2|6\.3|6\.4|6\.5|6\.6|6\.7|6\.8|6\.9|7\.2|7\.3|7\.4|7\.5|7\.6|7\.7|7\.8|7\.9|8\.2|8\.3|8\.4|8\.5|8\.6|8\.7|8\.8|8\.9|9\.2|9\.3|9\.4|9\.5|9\.6|9\.7|9\.8|9\.9)[0-9]{2}\.[0-9]{4}([^0-9.]|\.[^0-9]|$)/ ascii wide
        // +1 312 555 0147 / +13125550147
        $nanp_plus = /\+1[ .\-]?[2-9][0-9]{2}[ .\-]?[2-9][0-9]{2}[ .\-]?[0-9]{4}([^0-9]|$)/ ascii wide
        // +44 20 7946 0958: other E.164 country codes
        $e164 = /(^|[^0-9])(\+2|\+3|\+4|\+5|\+6|\+7|\+8|\+9)[0-9]{0,2}([ .\-]?[0-9]{1,4}){2,6}([^0-9]|$)/ ascii wide
    condition:
        any of them
}
