"""functions-framework entry for the login function (glue only).

Run: functions-framework --source functions/login/main.py --target login \
     --signature-type http --asgi
"""

from imfaas.functions.login.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

login = function_entry("login", create_function, NEEDS)
