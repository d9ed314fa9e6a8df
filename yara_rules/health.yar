/*
    Protected health information (HIPAA identifiers) recognised by their form labels.

    Every string starts with a label literal, and the value after it is bounded to the
    rest of the line; the phi validator decides whether a plausible value follows.
*/

rule health_patient_name
{
    meta:
        category = "health"
        severity = "high"
        description = "Patient name field"
        validator = "phi"
    strings:
        $name = /(Patient|PATIENT|patient)('s)? ?(Name|NAME|name)[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,64}/ ascii wide
    condition:
        any of them
}

rule health_date_of_birth
{
    meta:
        category = "health"
        severity = "medium"
        description = "Date of birth field"
        validator = "phi"
    strings:
        $dob = /(DOB|D\.O\.B\.?|Date [Oo]f [Bb]irth|DATE OF BIRTH|Birth ?[Dd]ate|BIRTH ?DATE)[ \t]{0,4}[:=#]?[ \t]{0,4}[^\r\n]{0,32}/ ascii wide
    condition:
        any of them
}

rule health_medical_record_number
{
    meta:
        category = "health"
        severity = "high"
        description = "Medical record number field"
        validator = "phi"
    strings:
        $mrn = /(MRN|MR#|Medical [Rr]ecord ([Nn]umber|[Nn]o\.?|#)|MEDICAL RECORD (NUMBER|NO\.?|#))[ \t]{0,4}[:=#]?[ \t]{0,4}[^\r\n]{0,24}/ ascii wide
    condition:
        any of them
}

rule health_diagnosis
{
    meta:
        category = "health"
        severity = "high"
        description = "Diagnosis field or ICD code"
        validator = "phi"
    strings:
        $dx = /(Diagnos[ie]s|DIAGNOS[IE]S|Dx)[ \t]{0,4}[:=][ \t]{0,4}[^\r\n]{0,80}/ ascii wide
        $icd = /ICD[\- ]?(10|9)(-CM)?( [Cc]ode| CODE)?[ \t]{0,4}[:=#]?[ \t]{0,4}[A-Z0-9.]{0,10}/ ascii wide
    condition:
        any of them
}
