/*
    US and NATO security classification markings (banner and portion forms).

    Markings are always upper case, so nothing here is case-insensitive: "top secret
    chili recipe" cannot match. Overlapping levels are excluded with a guard so that
    one banner gives one finding ("TOP SECRET//" is not also reported as "SECRET//").
*/

rule classification_top_secret
{
    meta:
        category = "classification"
        severity = "critical"
        description = "TOP SECRET banner marking with control markings"
        validator = "classification"
    strings:
        // not preceded by "COSMIC " (classification_nato reports that)
        $ts = /(^|[^ ]|[^C] |[^I]C |[^M]IC )TOP SECRET\/\/[A-Z][A-Z0-9 ,\/\-]{1,100}/ ascii wide
    condition:
        any of them
}

rule classification_secret
{
    meta:
        category = "classification"
        severity = "critical"
        description = "SECRET banner marking with control markings"
        validator = "classification"
    strings:
        // not preceded by "TOP " or "NATO " (classification_top_secret / _nato report those)
        $s = /(^|[^ ]|[^PO] |[^O]P |[^T]OP |[^T]O |[^A]TO |[^N]ATO )SECRET\/\/[A-Z][A-Z0-9 ,\/\-]{1,100}/ ascii wide
    condition:
        any of them
}

rule classification_confidential
{
    meta:
        category = "classification"
        severity = "high"
        description = "CONFIDENTIAL banner marking with control markings"
        validator = "classification"
    strings:
        // not preceded by "NATO " (classification_nato reports that)
        $c = /(^|[^ ]|[^O] |[^T]O |[^A]TO |[^N]ATO )CONFIDENTIAL\/\/[A-Z][A-Z0-9 ,\/\-]{1,100}/ ascii wide
    condition:
        any of them
}

rule classification_portion
{
    meta:
        category = "classification"
        severity = "high"
        description = "Classified portion marking such as (TS//SI) or (S//NF)"
        validator = "classification"
    strings:
        $p = /\((TS|S|C)\/\/[A-Z][A-Z0-9 ,\/\-]{0,60}\)/ ascii wide
    condition:
        any of them
}

rule classification_cui
{
    meta:
        category = "classification"
        severity = "high"
        description = "Controlled Unclassified Information (CUI) banner marking"
        validator = "classification"
    strings:
        $cui = /(^|[^A-Za-z])CUI\/\/[A-Z][A-Z0-9 ,\/\-]{1,100}/ ascii wide
    condition:
        any of them
}

rule classification_nato
{
    meta:
        category = "classification"
        severity = "critical"
        description = "NATO classification marking (COSMIC TOP SECRET, NATO SECRET, ATOMAL...)"
        validator = "classification"
    strings:
        $nato = /(COSMIC TOP SECRET|NATO SECRET|NATO CONFIDENTIAL|NATO RESTRICTED)( ATOMAL)?(\/\/[A-Z][A-Z0-9 ,\/\-]{1,100})?([^A-Za-z]|$)/ ascii wide
        // ATOMAL on its own; after a NATO level it is part of $nato
        $atomal = /(^|[^A-Z ]|[^TLD] )ATOMAL([^A-Za-z]|$)/ ascii wide
    condition:
        any of them
}

rule classification_banner_line_secret
{
    meta:
        category = "classification"
        severity = "critical"
        description = "TOP SECRET or SECRET banner line (the marking alone on its line)"
        validator = "classification_banner"
    strings:
        // a banner is its own line: a line break (or the start of the data) on both sides
        $banner = /(^|[\n\r\f])[ \t]{0,60}(TOP )?SECRET(\/\/[A-Z][A-Z0-9 ,\/\-]{1,100})?[ \t]{0,60}([\r\n\f]|$)/ ascii wide
    condition:
        any of them
}

rule classification_banner_line
{
    meta:
        category = "classification"
        severity = "high"
        description = "CONFIDENTIAL or CUI/CONTROLLED banner line (the marking alone on its line)"
        validator = "classification_banner"
    strings:
        $banner = /(^|[\n\r\f])[ \t]{0,60}(CONFIDENTIAL|CUI|CONTROLLED)(\/\/[A-Z][A-Z0-9 ,\/\-]{1,100})?[ \t]{0,60}([\r\n\f]|$)/ ascii wide
    condition:
        any of them
}
