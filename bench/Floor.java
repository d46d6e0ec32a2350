// The floor of bench/compare.sh: Kafka's own AdminClient creates every topic (with its configs)
// in one batched createTopics call, then every ACL binding in one batched createAcls call.
// No validation, no reads, no plan, no catalog: the least work that leaves the cluster with the
// same topics and ACLs as `mesh apply`.
//
// Usage: java -cp '<kafka libs>/*:<dir of Floor.class>' Floor BOOTSTRAP CLIENT_PROPERTIES PRODUCTS_TSV PREFIX
// PRODUCTS_TSV is bench_mesh's products.tsv; PREFIX goes in front of every topic and group name
// ("PREFIX.") and every principal ("User:PREFIX-…"), so that each tool on the one cluster has its
// own resources.

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Floor {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Floor BOOTSTRAP CLIENT_PROPERTIES PRODUCTS_TSV PREFIX");
            System.exit(2);
        }
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[1])) {
            props.load(in);
        }
        props.put("bootstrap.servers", args[0]);
        String prefix = args[3];
        List<NewTopic> topics = new ArrayList<>();
        List<AclBinding> acls = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(args[2]))) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t");
            String topic = prefix + "." + f[0];
            Map<String, String> config = new HashMap<>();
            for (String kv : f[3].split(",")) {
                String[] p = kv.split("=", 2);
                config.put(p[0], p[1]);
            }
            topics.add(new NewTopic(topic, Integer.parseInt(f[1]), Short.parseShort(f[2])).configs(config));
            String producer = principal(prefix, f[4]);
            String consumer = principal(prefix, f[5]);
            String group = prefix + "." + f[6];
            acls.add(binding(ResourceType.TOPIC, topic, producer, AclOperation.WRITE));
            acls.add(binding(ResourceType.TOPIC, topic, producer, AclOperation.DESCRIBE));
            acls.add(binding(ResourceType.TOPIC, topic, consumer, AclOperation.READ));
            acls.add(binding(ResourceType.TOPIC, topic, consumer, AclOperation.DESCRIBE));
            acls.add(binding(ResourceType.GROUP, group, consumer, AclOperation.READ));
        }
        try (Admin admin = Admin.create(props)) {
            long t0 = System.nanoTime();
            admin.createTopics(topics).all().get();
            long t1 = System.nanoTime();
            admin.createAcls(acls).all().get();
            long t2 = System.nanoTime();
            System.err.printf("floor: createTopics(%d) %.0f ms, createAcls(%d) %.0f ms%n",
                    topics.size(), (t1 - t0) / 1e6, acls.size(), (t2 - t1) / 1e6);
        }
    }

    // "User:sales-000-writer-1" becomes "User:PREFIX-sales-000-writer-1".
    static String principal(String prefix, String p) {
        int colon = p.indexOf(':');
        return p.substring(0, colon + 1) + prefix + "-" + p.substring(colon + 1);
    }

    static AclBinding binding(ResourceType type, String name, String principal, AclOperation op) {
        return new AclBinding(
                new ResourcePattern(type, name, PatternType.LITERAL),
                new AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW));
    }
}
