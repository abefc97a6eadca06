"""`python -m examples.engaged_users`: run the service against KAFKA_BOOTSTRAP_SERVERS."""

from examples.engaged_users.app import main

if __name__ == "__main__":
    main()
