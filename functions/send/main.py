"""functions-framework entry for the send function (glue only).

Run: functions-framework --source functions/send/main.py --target send \
     --signature-type http --asgi
"""

from imfaas.functions.send.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

send = function_entry("send", create_function, NEEDS)
