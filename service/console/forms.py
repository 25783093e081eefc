"""The console's forms (Flask-WTF): each carries its CSRF token and says what it expects."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from service.staff.accounts import PASSWORD_MAX, PASSWORD_MIN


class SignInForm(FlaskForm):
    """Address and password."""

    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class CodeForm(FlaskForm):
    """The six digits from the member's authenticator app."""

    code = StringField(
        _l("Code from your authenticator app"),
        validators=[
            DataRequired(),
            Regexp(
                r"^\s*(?:\d{6}|[0-9a-f]{8}-?[0-9a-f]{8})\s*$",
                message=_l("Enter the 6 digits, or a recovery code."),
            ),
        ],
    )


class TurnOffForm(CodeForm):
    """A member turning their own two-step sign-in off: their password, then a current code
    or a recovery code."""

    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class ActionForm(FlaskForm):
    """A button that changes something (pause, resume, cancel, schedule): only the token."""


class JoinForm(FlaskForm):
    """An invited person's new password, typed twice."""

    password = PasswordField(
        _l("New password (at least 12 characters)"),
        validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)],
    )
    again = PasswordField(
        _l("The same password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )
