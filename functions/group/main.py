"""functions-framework entry for the group function (glue only).

Run: functions-framework --source functions/group/main.py --target group \
     --signature-type http --asgi
"""

from imfaas.functions.group.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

group = function_entry("group", create_function, NEEDS)
