"""Data access: pynamodb models and the repositories that map them to domain types.

Only this package imports pynamodb or boto3's DynamoDB client.
"""
