"""Errors raised by the domain: each names the field at fault and what was expected."""


class DomainError(ValueError):
    """Base for invalid domain input."""


class InvalidBooking(DomainError):
    """A booking record is missing a field or has one of the wrong type or form."""


class InvalidEvent(DomainError):
    """An event an entry point was handed is malformed: the worker's booking event, or the Lambda's invoke
    event (lambda_events.parse_event). Never retried: the same bytes fail the same way."""


class InvalidRules(DomainError):
    """The rules file breaks its schema; the message names the rule and the field."""


class InvalidMessage(DomainError):
    """A planned message cannot be sent as it is (too long for an LMS)."""
