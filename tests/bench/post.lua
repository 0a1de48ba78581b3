-- POSTs the JSON body in $BODY to $TARGET_PATH.
wrk.method = "POST"
wrk.path = os.getenv("TARGET_PATH")
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
