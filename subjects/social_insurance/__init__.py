"""Human resources' social-insurance payments: daily GBK CSV drops and their standardisation."""
