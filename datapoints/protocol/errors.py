"""OCPP-J 1.6 CALLERROR codes (section 4.2.3), spelled as the 1.6 spec spells them."""


class CallError(Exception):
    code = "GenericError"

    def __init__(self, description, details=None):
        super().__init__(description)
        self.description = description
        self.details = details or {}

    def frame(self, unique_id):
        return [4, unique_id, self.code, self.description, self.details]


def _error(name, code):
    return type(name, (CallError,), {"code": code})


NotImplementedCall = _error("NotImplementedCall", "NotImplemented")
NotSupported = _error("NotSupported", "NotSupported")
InternalError = _error("InternalError", "InternalError")
ProtocolError = _error("ProtocolError", "ProtocolError")
SecurityError = _error("SecurityError", "SecurityError")
# 1.6 says FormationViolation; 2.0 renamed it FormatViolation. We speak 1.6.
FormationViolation = _error("FormationViolation", "FormationViolation")
PropertyConstraintViolation = _error("PropertyConstraintViolation", "PropertyConstraintViolation")
# The 1.6 spec's own spelling.
OccurenceConstraintViolation = _error("OccurenceConstraintViolation", "OccurenceConstraintViolation")
TypeConstraintViolation = _error("TypeConstraintViolation", "TypeConstraintViolation")
GenericError = CallError

ALL_CODES = (
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
)
