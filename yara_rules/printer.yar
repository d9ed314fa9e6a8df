/*
    Printer job secrets embedded in PJL headers of spooled jobs.

    HP stores private/held jobs with @PJL SET HOLDKEY="1234" (a 4-digit PIN); other
    drivers use JOBPASSWORD or a JOBATTR "@PIN=" attribute. The pjl_holdkey validator
    requires a 4-10 digit PIN.
*/

rule printer_pjl_job_pin
{
    meta:
        category = "printer"
        severity = "high"
        description = "Stored/private print job PIN (PJL HOLDKEY, JOBPASSWORD, @PIN)"
        validator = "pjl_holdkey"
    strings:
        $holdkey = /HOLDKEY[ \t]{0,4}=[ \t]{0,4}"?[0-9A-Za-z]{0,16}"?/ ascii wide
        $jobpassword = /JOBPASSWORD[ \t]{0,4}=[ \t]{0,4}"?[0-9A-Za-z]{0,16}"?/ ascii wide
        $pin = /@PIN[ \t]{0,4}=[ \t]{0,4}"?[0-9A-Za-z]{0,16}"?/ ascii wide
    condition:
        any of them
}
