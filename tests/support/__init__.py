"""Helpers the test suite shares: throwaway servers, the running app, mail sinks."""
