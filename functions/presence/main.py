"""functions-framework entry for the presence function (glue only).

Run: functions-framework --source functions/presence/main.py --target presence \
     --signature-type http --asgi
"""

from imfaas.functions.presence.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

presence = function_entry("presence", create_function, NEEDS)
