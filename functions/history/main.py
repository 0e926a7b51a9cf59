"""functions-framework entry for the history function (glue only).

Run: functions-framework --source functions/history/main.py --target history \
     --signature-type http --asgi
"""

from imfaas.functions.history.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

history = function_entry("history", create_function, NEEDS)
