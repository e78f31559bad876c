# tls.sh: certificates for tests, made with the openssl CLI (EC P-256: fast).
# tls_make DIR: DIR/ca.pem, server.pem/server-key.pem (CN=localhost, SAN localhost and 127.0.0.1),
# client.pem/client-key.pem, and an unrelated DIR/other-ca.pem for negative tests.
tls_make() {
	local d=$1
	mkdir -p "$d"
	(
		cd "$d"
		_ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=$1" -keyout "$2-key.pem" -out "$2.pem" 2>/dev/null; }
		_leaf() {
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
				-keyout "$2-key.pem" -out "$2.csr" 2>/dev/null
			printf 'subjectAltName=%s\n' "$3" >"$2.ext"
			openssl x509 -req -in "$2.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
				-extfile "$2.ext" -out "$2.pem" 2>/dev/null
			rm -f "$2.csr" "$2.ext"
		}
		_ca "clonefs test CA" ca
		_ca "some other CA" other-ca
		_leaf localhost server "DNS:localhost,IP:127.0.0.1"
		_leaf "clonefs client" client "DNS:client"
		chmod 644 ./*.pem
	)
}
